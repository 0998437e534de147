"""Plain option values coerced without pydantic.

typer 0.29 coerces every parameter through a pydantic ``TypeAdapter`` that it builds the
first time the parameter is processed, so every run, even ``alphapulse replay --help`` (the
root options are processed first), imported pydantic: as long again as importing typer.
Our parameters take plain values: str, int and float (with min/max), bool, Path, lists of
str. ``install`` gives each such parameter a coercion that returns what typer's would, for
the values whose answer is certain, and hands every other value (an out-of-range number, a
string it does not recognise, a type it does not know) to typer's own coercion, built only
then, which stays the reference: the same value, or the same error message.

This uses two internals of typer 0.29 (``typer._coercion`` and a parameter's
``_runtime_param``); ``tests/cli/test_startup.py`` checks both, and the answers against
typer's for every parameter of every command.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_args, get_origin

from typer._click import Command
from typer._coercion import RuntimeParam, build_runtime_param
from typer._param_types import coerce_cli_path, lenient_issubclass, routes_to_path


class _HandBack(Exception):
    """Not a value we are certain of: typer's own coercion decides."""


def _int_text(text: str) -> bool:
    """An optional minus and up to 18 digits, no leading zero: read alike by int() and
    pydantic."""
    digits = text[1:] if text[:1] == "-" else text
    return (
        0 < len(digits) <= 18
        and digits.isascii()
        and digits.isdigit()
        and (digits[0] != "0" or digits == "0")
    )


def _float_text(text: str) -> bool:
    """An integer part as above, up to 15 digits, and maybe a dot and 1-15 digits."""
    whole, dot, frac = text.partition(".")
    return (
        _int_text(whole)
        and len(whole) <= 16
        and (not dot or (0 < len(frac) <= 15 and frac.isascii() and frac.isdigit()))
    )


class _Plain(RuntimeParam):
    """The coercion of one kind of plain value; `_plain` raises for anything uncertain."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return self._plain(value, param, ctx)
        except Exception:
            reference = build_runtime_param(param.type_descriptor)
            return reference._coerce_value(value, param=param, ctx=ctx)

    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        raise _HandBack

    def _in_range(self, value: Any) -> Any:
        info = self.parameter_info
        if (info.min is not None and value < info.min) or (
            info.max is not None and value > info.max
        ):
            raise _HandBack
        return value


class _Str(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is str:
            return value
        raise _HandBack


class _Bool(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is bool:
            return value
        raise _HandBack


class _Int(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is int or (type(value) is str and _int_text(value)):
            return self._in_range(int(value))
        raise _HandBack


class _Float(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is float or (type(value) is str and _float_text(value)):
            return self._in_range(float(value))
        raise _HandBack


class _Path(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is not str or not value:
            raise _HandBack
        info = self.parameter_info
        # Given a Path, as pydantic's Path(value) would give it, this needs no TypeAdapter.
        path_type = info.path_type or self.annotation
        return coerce_cli_path(Path(value), info, path_type=path_type, param=param, ctx=ctx)


class _List(_Plain):
    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        (item_type,) = get_args(self.annotation)
        item = _plain_param(item_type, self.parameter_info)
        if item is None:
            raise _HandBack
        items = value if isinstance(value, (list, tuple)) else [value]
        return [item._plain(v, param, ctx) for v in items]


_LEAVES: dict[Any, type[_Plain]] = {str: _Str, bool: _Bool, int: _Int, float: _Float}


def _plain_param(annotation: Any, info: Any) -> _Plain | None:
    """The plain coercion for this annotation, or None when typer's must do it all."""
    if info.parser is not None or info.clamp:
        return None
    cls = _LEAVES.get(annotation)
    if cls is None and get_origin(annotation) is list:
        cls = _List
    if cls is None and lenient_issubclass(annotation, Path) and routes_to_path(annotation, info):
        cls = _Path
    return None if cls is None else cls(parameter_info=info, annotation=annotation)


class PlainParams(Command):
    """Mixed in before a typer command or group class: the parameters it parses with,
    the help option that click adds among them too, get the plain coercion."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        install(params)
        name_metavars(params)
        return params


def _no_type(ctx: Any) -> None:
    return None


def name_metavars(params: Iterable[Any]) -> None:
    """A value's metavar is its name (`--duration DURATION`), not typer's Python type
    (`<float range>`, `<list[str]>`), unless the command gave one."""
    for p in params:
        if getattr(p, "param_type_name", "") == "argument":
            # An argument's help line is its metavar plus the type: the metavar says it all.
            p.display_type_rich = _no_type
        if getattr(p, "metavar", "") is None and not getattr(p, "is_flag", False):
            if getattr(p, "count", False) or getattr(p, "name", None) is None:
                continue
            p.metavar = p.name.upper()


def install(params: Iterable[Any]) -> None:
    """Give each typer parameter in params with a plain type the coercion above."""
    for p in params:
        desc = getattr(p, "type_descriptor", None)
        if desc is None or getattr(p, "_runtime_param", None) is not None:
            continue
        plain = _plain_param(desc.annotation, desc.parameter_info)
        if plain is not None:
            p._runtime_param = plain
