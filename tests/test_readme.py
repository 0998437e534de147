"""The README's install and quick start, run verbatim as a new user runs them: `pip install .`
in a fresh virtual environment, then each quick-start command, read out of README.md so
that this test follows the README when it changes.

To stay fast and need no network for the dependencies, the fresh environment sees the
packages the test's own interpreter has (through a .pth file): `pip install .` finds them
already satisfied, builds and installs the package itself (the C extension included) into
the fresh environment, whose `alphapulse` then runs from there. pip still fetches the
build backend (setuptools, wheel) for its isolated build, as it does for any user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = {
    ".git",
    "build",
    "dist",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}


def commands(title: str) -> list[str]:
    """The command lines (indented four spaces) of the README section `## <title>...`."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, f"README.md has no section '## {title}'"
    return [ln[4:] for ln in m.group(1).splitlines() if ln.startswith("    ") and ln.strip()]


def test_the_quick_start_is_one_simulated_capture_then_its_pipeline():
    [install] = commands("Install")
    assert install == "pip install ."
    first, *pipeline = commands("Quick start")
    assert first.startswith("alphapulse collect ") and " --simulate" in first
    assert " --url" not in first
    assert pipeline and all(c.startswith("alphapulse ") for c in pipeline)


def _ignore(folder: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in SKIP or n.endswith((".egg-info", ".so"))}
    if Path(folder) == ROOT:  # what a user's earlier runs left in a checkout
        skip |= {"data", "lake"} & set(names)
    return skip


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_install_and_quick_start_run_verbatim_in_a_fresh_venv(tmp_path):
    [install] = commands("Install")
    quick = commands("Quick start")
    repo = tmp_path / "alphapulse"
    shutil.copytree(ROOT, repo, ignore=_ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    Path(purelib, "_test_readme_deps.pth").write_text("".join(f"{p}\n" for p in deps))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def sh(line: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            ["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert r.returncode == 0, f"{line}: exit {r.returncode}\n{r.stderr[-3000:]}"
        assert "Traceback" not in r.stderr, f"{line}:\n{r.stderr[-3000:]}"
        return r

    sh(install, timeout=600)
    assert shutil.which("alphapulse", path=env["PATH"]) == str(venv / "bin" / "alphapulse")
    where = sh('python -c "import alphapulse_cli; print(alphapulse_cli.__file__)"').stdout
    assert where.startswith(str(venv)), where
    # The dashboard's page is package data: the non-editable install must carry it.
    page = "from alphapulse_cli.dashboard.server import asset; "
    page += "print(all(asset(n) for n in ('index.html', 'app.js', 'style.css')))"
    assert sh(f'python -c "{page}"').stdout.strip() == "True"

    # The installed man pages and completions, found from the venv's bin on PATH.
    if shutil.which("man"):
        for page in ("alphapulse", "alphapulse-replay", "alphapulse-collect"):
            found = sh(f"man -w {page}").stdout.strip()
            assert found == str(venv / "share" / "man" / "man1" / f"{page}.1"), found
    bash = venv / "share" / "bash-completion" / "completions" / "alphapulse.bash"
    for words, want in (
        ("alphapulse replay --format ''", "jsonl wslog events books"),
        ("alphapulse collect ''", "coinbase kraken"),
    ):
        got = sh(
            f"source {bash}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); "
            '_alphapulse; echo "${COMPREPLY[*]}"'
        ).stdout.strip()
        assert got == want, (words, got)

    collect, *pipeline = quick
    r = sh(collect)
    [summary] = [json.loads(x) for x in r.stderr.splitlines() if '"event": "stopped"' in x]
    sim = summary["simulated"]
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", sim["url"])
    assert summary["frames_in"] == sim["frames_sent"] > 0 and summary["trades"] > 0
    venue = summary["venue"]
    assert list((repo / "data" / venue).glob("*.wslog"))
    for line in pipeline:
        out = sh(line).stdout
        if "|" in line:
            assert out.strip(), f"{line}: no output"
        if line.startswith("alphapulse query "):
            rows = [json.loads(x) for x in out.splitlines()]
            assert rows and all(row["venue"] == venue for row in rows)
