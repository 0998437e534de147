"""The compiled speedups only; everything else about the package is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs on its
pure-Python paths. Set ALPHAPULSE_NO_EXTENSION=1 to skip building it.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if not os.environ.get("ALPHAPULSE_NO_EXTENSION"):
    ext_modules.append(
        Extension(
            "alphapulse_cli._speedups",
            ["src/alphapulse_cli/_speedups.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)
