"""README.md checked against the code, without running anything: every `alphapulse`
command line in it names a real command and only options that command has, and the
.wslog format it describes is the one wslog/format.py writes. (tests/test_readme.py runs
the install and the quick start.)"""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from alphapulse_cli.cli.app import COMMANDS, app
from alphapulse_cli.wslog import format as wf

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _command_lines() -> list[str]:
    """Each `alphapulse ...` invocation in an indented block (continuations joined,
    comments and cron schedules dropped), one per pipeline stage."""
    out = []
    joined = re.sub(r"\\\n\s*", " ", README)
    for line in joined.splitlines():
        if not line.startswith("    ") or line.lstrip().startswith("#"):
            continue
        for stage in re.split(r"\s(?:\||&&|&)\s?", line):
            m = re.search(r"(?:^|\s)(alphapulse\s.*)$", stage.strip())
            if m:
                out.append(m.group(1).strip().rstrip("&").strip())
    return out


LINES = _command_lines()


def test_the_readme_has_command_lines():
    names = {shlex.split(x)[1] for x in LINES if not shlex.split(x)[1].startswith("-")}
    assert len(LINES) > 30 and {"collect", "replay", "compact", "query"} <= names


@functools.cache
def _group() -> Any:
    import typer.main

    return typer.main.get_command(app)


@pytest.mark.parametrize("line", LINES)
def test_each_command_line_uses_real_options(line):
    group = _group()
    words = shlex.split(line)[1:]
    root_opts = {o for p in group.params for o in p.opts + p.secondary_opts}
    while words and words[0].startswith("-"):
        opt = words.pop(0)
        assert opt in root_opts, f"{line}: {opt} is not a global option"
        if opt == "--cpus":
            words.pop(0)
    name = words[0]
    assert name in dict(COMMANDS), f"{line}: no command {name}"
    cmd = group.get_command(None, name)  # type: ignore[arg-type]
    known = {o for p in cmd.params for o in p.opts + p.secondary_opts} | {"-h", "--help"}
    for w in words[1:]:
        if w == "--":
            break
        if w.startswith("--") or re.fullmatch(r"-[A-Za-z]", w):
            assert w.split("=")[0] in known, f"{line}: {name} has no option {w}"


def test_the_wslog_format_section_matches_the_writer():
    section = README[README.index("## The .wslog format") :]
    assert f"A {wf.PREAMBLE_SIZE}-byte preamble" in section
    assert "the 8-byte magic `\\x93WSLOG\\r\\n`" in section and wf.MAGIC == b"\x93WSLOG\r\n"
    assert f"`u16 version` = {wf.VERSION}" in section
    assert f"a {wf.HEADER_SIZE}-byte little-endian header" in section
    assert "ALPHAWS1" not in README
