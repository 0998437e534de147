"""Generated man pages and completions must match the CLI definition."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_generated_docs_are_current():
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_every_command_has_a_man_page_with_sections():
    from alphapulse_cli.cli.app import COMMANDS

    for name, _ in COMMANDS:
        text = (ROOT / "man" / f"alphapulse-{name}.1").read_text()
        for section in ("NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "EXAMPLES"):
            assert f".SH {section}" in text, (name, section)
