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


def _bash_complete(words: str, cwd: Path) -> list[str]:
    script = Path(__file__).resolve().parent.parent / "completions" / "alphapulse.bash"
    r = subprocess.run(
        [
            "bash",
            "-c",
            f"source {script}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); "
            '_alphapulse; printf "%s\\n" "${COMPREPLY[@]}"',
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.parametrize(
    ("words", "want"),
    [
        ("alphapulse replay --format ''", ["jsonl", "wslog", "events", "books"]),
        ("alphapulse replay data/ -f b", ["books"]),
        ("alphapulse collect ''", ["coinbase", "kraken"]),
        ("alphapulse collect kraken --protocol v", ["v2", "v1"]),
        ("alphapulse local-exchange k", ["kraken"]),
        ("alphapulse shm-dump ring --format ''", ["auto", "jsonl", "ladder"]),
        ("alphapulse query ''", ["trades", "book-updates", "book", "bars", "sql"]),
        ("alphapulse query bars BTC-USD 1m --format c", ["csv"]),
        ("alphapulse bench parse s", ["shm", "serve", "startup"]),
        ("alphapulse collect kraken ''", []),  # a symbol: no file names
    ],
)
def test_bash_completes_values_not_file_names(tmp_path, words, want):
    (tmp_path / "somefile").write_text("")
    assert _bash_complete(words, tmp_path) == want


def test_bash_completes_paths_where_a_path_goes(tmp_path):
    (tmp_path / "somefile").write_text("")
    assert _bash_complete("alphapulse replay ''", tmp_path) == ["somefile"]
    assert _bash_complete("alphapulse collect -o ''", tmp_path) == ["somefile"]


def test_zsh_and_fish_complete_the_same_values():
    root = Path(__file__).resolve().parent.parent / "completions"
    zsh, fish = (root / "_alphapulse").read_text(), (root / "alphapulse.fish").read_text()
    assert "'--format:value:(jsonl wslog events books)'" in zsh
    assert "'1:value:(coinbase kraken)'" in zsh
    assert "-l format -x -a 'jsonl wslog events books'" in fish
    assert "__fish_seen_subcommand_from collect' -f -a 'coinbase kraken'" in fish


def test_the_ring_layout_is_in_the_man_page_not_in_help():
    from alphapulse_cli.cli.shm_dump_cmd import command

    root = Path(__file__).resolve().parent.parent
    page = (root / "man" / "alphapulse-shm-dump.1").read_text()
    assert ".SH RING LAYOUT" in page and "struct ap_ring_header" in page
    help_text = command.__doc__ or ""
    assert "struct " not in help_text and len(help_text.splitlines()) < 40
