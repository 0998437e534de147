"""Start-up: commands load lazily, listings need no command or suite module, and the plain
option coercion (cli/plain_params.py) answers exactly as typer's pydantic-built one."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st

from alphapulse_cli.bench.registry import SUITES
from alphapulse_cli.bench.registry import SUMMARIES as SUITE_SUMMARIES
from alphapulse_cli.cli import plain_params
from alphapulse_cli.cli.app import COMMANDS, SUMMARIES, app
from tests.helpers.wslog_spec import spec_preamble

HEAVY = ("pydantic", "msgspec", "numpy", "pyarrow", "duckdb", "zstandard", "websockets", "rich")


def loaded_after(*args: str) -> set[str]:
    """The modules a fresh `alphapulse ARGS` has imported by the time it exits."""
    code = (
        "import json, sys\n"
        "from alphapulse_cli.cli.app import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return set(json.loads(r.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def command_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("alphapulse_cli.cli.") and m.endswith("_cmd")}


def test_summaries_are_the_docstrings_first_paragraphs():
    assert list(SUMMARIES) == [name for name, _ in COMMANDS]
    for name, module in COMMANDS:
        doc = inspect.getdoc(importlib.import_module(module).command) or ""
        assert SUMMARIES[name] == " ".join(doc.split("\n\n")[0].split()), name
    assert list(SUITE_SUMMARIES) == list(SUITES)
    for name, target in SUITES.items():
        mod, _, fn = target.partition(":")
        doc = inspect.getdoc(getattr(importlib.import_module(mod), fn)) or ""
        # The whole first paragraph: `bench --list` never stops mid-sentence.
        assert SUITE_SUMMARIES[name] == " ".join(doc.split("\n\n")[0].split()), name


def test_top_level_help_imports_no_command():
    modules = loaded_after("--help")
    assert command_modules(modules) == set()
    assert heavy(modules) == set()


@pytest.mark.parametrize("name,module", COMMANDS)
def test_command_help_imports_only_that_command(name, module):
    modules = loaded_after(name, "--help")
    assert command_modules(modules) == {module}
    assert heavy(modules) == set()


def test_cheap_runs_import_nothing_heavy(tmp_path):
    empty = tmp_path / "empty.wslog"
    empty.write_bytes(spec_preamble())
    modules = loaded_after("replay", str(empty), "--format", "events")
    assert heavy(modules) == set()
    modules = loaded_after("bench", "--list")
    assert heavy(modules) == set()
    assert not any(m.startswith("alphapulse_cli.bench.suites") for m in modules)


GROUP = typer.main.get_command(app)
CTX = GROUP.context_class(GROUP)


def typer_params():
    """(command name, parameter) for every typer parameter of the root and each command."""
    out = [("", p) for p in GROUP.get_params(CTX)]
    for name, cmd in GROUP.commands.items():
        out += [(name, p) for p in cmd.get_params(cmd.context_class(cmd, parent=CTX))]
    return [(n, p) for n, p in out if hasattr(p, "type_descriptor")]


PARAMS = typer_params()


def answer(runtime, param, value):
    ctx = CTX
    try:
        out = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:
        return ("error", type(exc).__name__, getattr(exc, "message", str(exc)))
    return ("value", type(out).__name__, out)


def check_same(value):
    from typer._coercion import build_runtime_param

    for name, p in PARAMS:
        plain = p._runtime_param
        if plain is None:
            continue
        reference = build_runtime_param(p.type_descriptor)
        assert answer(plain, p, value) == answer(reference, p, value), (name, p.name, value)


def test_every_parameter_of_every_command_has_the_plain_coercion():
    assert PARAMS
    missing = [(n, p.name) for n, p in PARAMS if p._runtime_param is None]
    # Such a parameter has typer build a pydantic TypeAdapter, importing pydantic, at every
    # run of its command: give its type a plain coercion in cli/plain_params.py.
    assert missing == []
    assert all(isinstance(p._runtime_param, plain_params._Plain) for _, p in PARAMS)


@pytest.mark.parametrize(
    "value",
    [
        *("0", "1", "-1", "-0", "7", "007", "+3", " 4", "4 ", "1.5", "-0.0", "0.10", "1e3"),
        *("abc", "", "-", ".5", "5.", "1_000", "²", "١", "65535", "65536", "-20", "19", "30"),
        *("0.1", "99999999999999999999", "1" * 18, "1" * 19, "inf", "nan", "True", "yes"),
        *(0, 1, -5, 10, 1_000_000, 0.0, 0.5, 2.0, -1.0, True, False, None),
        *(str(Path(__file__).parent), "/nonexistent/alphapulse", "-"),
        *(("a", "b"), ("1",), ["x,y"], ()),
    ],
)
def test_plain_coercion_answers_as_typers(value):
    check_same(value)


@pytest.mark.slow  # every parameter of every command per example: ~50 ms each
@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789-+._e ", max_size=22))
def test_plain_coercion_answers_as_typers_on_number_like_text(text):
    check_same(text)
