"""The compiled speedups only; everything else about the package is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs on its
pure-Python paths. Set ALPHAPULSE_NO_EXTENSION=1 to skip building it, and
ALPHAPULSE_STRICT_BUILD=1 (scripts/test.sh does, so CI does) to make every compiler warning
an error; users' compilers, whose warnings vary, are not held to that.
"""

import os

from setuptools import Extension, setup

ext_modules = []
flags = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
if os.environ.get("ALPHAPULSE_STRICT_BUILD"):
    flags.append("-Werror")
if not os.environ.get("ALPHAPULSE_NO_EXTENSION"):
    ext_modules.append(
        Extension(
            "alphapulse_cli._speedups",
            ["src/alphapulse_cli/_speedups.c"],
            extra_compile_args=flags,
            # A strict build must fail loudly rather than install without the extension.
            optional=not os.environ.get("ALPHAPULSE_STRICT_BUILD"),
        )
    )

setup(ext_modules=ext_modules)
