"""The compiled speedups and the installed man pages and completions; everything else
about the package is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs on its
pure-Python paths. Set ALPHAPULSE_NO_EXTENSION=1 to skip building it, and
ALPHAPULSE_STRICT_BUILD=1 (scripts/test.sh does, so CI does) to make every compiler warning
an error; users' compilers, whose warnings vary, are not held to that.
"""

import glob
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

# Man pages go to <prefix>/share/man, where man-db looks for a <prefix>/bin on PATH (a
# venv's too), so `man alphapulse` works after `pip install .`; the completion scripts go
# where each shell's system-wide loader looks under that prefix (README: Shell completion).
data_files = [
    ("share/man/man1", sorted(glob.glob("man/*.1"))),
    ("share/man/man5", sorted(glob.glob("man/*.5"))),
    ("share/bash-completion/completions", ["completions/alphapulse.bash"]),
    ("share/zsh/site-functions", ["completions/_alphapulse"]),
    ("share/fish/vendor_completions.d", ["completions/alphapulse.fish"]),
]

setup(ext_modules=ext_modules, data_files=data_files)
