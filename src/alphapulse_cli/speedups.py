"""The compiled kernels (src/alphapulse_cli/_speedups.c) as the rest of the package sees them.

Every kernel has a pure-Python twin that stays the reference. A kernel runs when the
extension was built and $ALPHAPULSE_NO_SPEEDUPS is not set; the variable is read each time
a reader or adapter is made, so one process can compare both paths.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

ENV = "ALPHAPULSE_NO_SPEEDUPS"

_ext: ModuleType | None
try:
    from alphapulse_cli import _speedups as _ext
except ImportError:  # no C compiler at install time: the pure-Python paths do it all
    _ext = None


def enabled() -> bool:
    """Whether the kernels run: built, and not switched off."""
    return _ext is not None and not os.environ.get(ENV)


def kernel(name: str, wanted: bool | None = None) -> Any | None:
    """The compiled function or type `name`, or None when the kernels do not run. `wanted`
    overrides the environment (True: use it if built; False: never)."""
    if _ext is None or wanted is False:
        return None
    return getattr(_ext, name) if wanted or enabled() else None


def counters() -> dict[str, Any]:
    """The `--stats` "speedups" value: whether the kernels run, and per kernel the frames
    (records, calls) handled and declined (handed to the Python twin) in this process."""
    if _ext is None:
        return {"enabled": False, "built": False}
    return {"enabled": enabled(), "built": True, **_ext.counters()}
