"""`--help` as a new user reads it: collect listed first, value names instead of Python
types, and `bench --list` in whole sentences."""

from __future__ import annotations

import re

import pytest

from alphapulse_cli.cli.app import COMMANDS
from tests.helpers.cli import run_cli

pytestmark = pytest.mark.slow  # the CLI as a process


def test_collect_is_listed_first():
    out = run_cli("--help").stdout.decode()
    listed = re.findall(r"^  ([a-z-]+)\s{2,}", out.split("Commands:")[1], re.M)
    assert listed[0] == "collect" and sorted(listed) == sorted(n for n, _ in COMMANDS)


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_help_shows_no_python_types(name):
    out = run_cli(name, "--help").stdout.decode()
    leaked = re.findall(r"<(?:str|int|float|bool|list|path|int range|float range)[^>]*>", out)
    assert not leaked, leaked


def test_bench_list_descriptions_are_whole_sentences():
    lines = run_cli("bench", "--list").stdout.decode().splitlines()
    assert lines and all(line.rstrip().endswith(".") for line in lines), lines
