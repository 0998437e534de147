#!/usr/bin/env python3
"""Generate man/ pages and completions/ scripts from the typer app (the CLI definition).

    python scripts/gen_docs.py            # write man/ and completions/
    python scripts/gen_docs.py --check    # exit 1 when what is on disk is stale

Everything is derived from the click command tree behind the typer app, plus the .wslog
format constants, so the docs cannot drift from the code without this check failing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import typer.main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from alphapulse_cli import __version__  # noqa: E402
from alphapulse_cli.cli.app import app  # noqa: E402
from alphapulse_cli.errors import ExitCode  # noqa: E402
from alphapulse_cli.venues_table import VENUE_IDS  # noqa: E402

DATE = "2026"
EXIT_TEXT = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "an error (a lock held by another process, an unwritable file, ...)",
    ExitCode.USAGE: "bad usage: an unknown option or a malformed value",
    ExitCode.DATA: (
        "bad or missing data: an input path that does not exist, not a .wslog, a cut-off "
        "record, a missing ring, a failed verify"
    ),
    ExitCode.UPSTREAM: "an upstream service (exchange, Redis) is unreachable",
    ExitCode.INTERRUPTED: "interrupted (SIGINT), in every command; files were closed cleanly",
}


def esc(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\n".join(("\\&" + ln) if ln.startswith((".", "'")) else ln for ln in text.split("\n"))


# typer may bring its own copy of click, so commands and parameters are read by their
# attributes rather than checked against click's classes.
Command = Any


def root_group() -> Command:
    return typer.main.get_command(app)


def is_option(p: Any) -> bool:
    return getattr(p, "param_type_name", "") == "option"


def is_argument(p: Any) -> bool:
    return getattr(p, "param_type_name", "") == "argument"


def unstyle(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def split_help(text: str) -> tuple[str, list[str], list[str]]:
    """(summary, description paragraphs, example lines) from a command docstring."""
    text = unstyle(text or "").strip()
    paras = [p.strip("\n") for p in text.split("\n\n")]
    summary = paras[0].strip() if paras else ""
    desc: list[str] = []
    examples: list[str] = []
    in_examples = False
    for p in paras[1:]:
        if p.strip().rstrip(":").lower() == "examples":
            in_examples = True
            continue
        if in_examples:
            examples.extend(ln.strip() for ln in p.splitlines() if ln.strip())
        else:
            desc.append(p)
    return summary, desc, examples


def option_lines(cmd: Command) -> list[tuple[str, str]]:
    out = []
    for p in cmd.params:
        if is_option(p):
            names = ", ".join(p.opts + p.secondary_opts)
            if not p.is_flag and not p.count:
                names += f" {p.metavar or p.name.upper()}"
            help_text = unstyle(p.help or "")
            if p.default not in (None, False, ()) and not p.is_flag and p.show_default is not False:
                help_text += f" (default: {p.default})"
            out.append((names, help_text))
    out.append(("-h, --help", "Show the help and exit."))
    return out


def synopsis(name: str, cmd: Command) -> str:
    parts = [name]
    if any(is_option(p) for p in cmd.params):
        parts.append("[OPTIONS]")
    for p in cmd.params:
        if is_argument(p):
            parts.append(p.metavar or p.name.upper())
    return " ".join(parts)


def exit_section() -> list[str]:
    out = [".SH EXIT STATUS"]
    for code in ExitCode:
        out += [".TP", f".B {int(code)}", esc(EXIT_TEXT[code])]
    return out


def man_paragraphs(paras: list[str]) -> list[str]:
    """Text paragraphs filled, indented ones (code, C structs) kept as they are."""
    lines: list[str] = []
    for p in paras:
        if any(ln.startswith("    ") for ln in p.splitlines()):
            lines += [".PP", ".nf", esc(p), ".fi"]
        else:
            lines += [".PP", esc(" ".join(ln.strip() for ln in p.splitlines()))]
    return lines


def man_page(full: str, cmd: Command, section: str = "1", extra: list[str] | None = None) -> str:
    summary, desc, examples = split_help(cmd.help or "")
    title = full.replace(" ", "-").upper()
    lines = [
        f'.TH {title} {section} "{DATE}" "alphapulse {__version__}" "alphapulse manual"',
        ".SH NAME",
        esc(f"{full.replace(' ', '-')} - {summary}"),
        ".SH SYNOPSIS",
        f".B {esc(synopsis(full, cmd))}",
        ".SH DESCRIPTION",
    ]
    lines += man_paragraphs(desc or [summary])
    lines.append(".SH OPTIONS")
    for names, help_text in option_lines(cmd):
        lines += [".TP", f".B {esc(names)}", esc(help_text)]
    lines += extra or []
    lines += exit_section()
    lines.append(".SH EXAMPLES")
    for ex in examples or [full + " --help"]:
        lines += [".PP", ".nf", esc(ex), ".fi"]
    lines += [".SH SEE ALSO", "alphapulse(1), wslog(5)"]
    return "\n".join(lines) + "\n"


def environment() -> list[tuple[str, str]]:
    """The variables the commands read, named from the constants the code reads them by."""
    from alphapulse_cli import speedups
    from alphapulse_cli.collect import credentials
    from alphapulse_cli.redis_streams import url as redis_url
    from alphapulse_cli.shm import layout

    return [
        (
            redis_url.ENV_VAR,
            f"Redis URL when --redis is not given ({redis_url.DEFAULT_URL} if unset).",
        ),
        (layout.DIR_ENV, f"Where shared-memory rings live ({layout.DEFAULT_DIR} if unset)."),
        (
            f"{credentials.ENV_KEY}, {credentials.ENV_SECRET}, {credentials.ENV_PASSPHRASE}",
            "Coinbase API credentials, for the authenticated level2 channel.",
        ),
        (
            speedups.ENV,
            "Non-empty: every compiled kernel (Coinbase and Kraken frames, .wslog record "
            "splitting, shared-memory book levels) is switched off and its pure-Python twin "
            "runs instead (same output, slower; for comparing the two).",
        ),
    ]


def root_page(group: Command) -> str:
    summary, _desc, _ = split_help(group.help or "")
    lines = [
        f'.TH ALPHAPULSE 1 "{DATE}" "alphapulse {__version__}" "alphapulse manual"',
        ".SH NAME",
        esc(f"alphapulse - {summary}"),
        ".SH SYNOPSIS",
        ".B alphapulse [--version] [--help] COMMAND [ARGS]...",
        ".SH DESCRIPTION",
        ".PP",
        esc(
            "One executable of small commands that compose through pipes, files, Redis and shared "
            "memory. Data goes to stdout, talk (logs, progress, errors) to stderr."
        ),
        ".SH OPTIONS",
    ]
    for names, help_text in option_lines(group):
        lines += [".TP", f".B {esc(names)}", esc(help_text)]
    lines.append(".SH COMMANDS")
    for name, cmd in sorted(group.commands.items()):
        s, _, _ = split_help(cmd.help or "")
        lines += [
            ".TP",
            f".B alphapulse {esc(name)}",
            esc(s) + f" See alphapulse\\-{esc(name)}(1).",
        ]
    lines += exit_section()
    lines.append(".SH ENVIRONMENT")
    for name, text in environment():
        lines += [".TP", f".B {esc(name)}", esc(text)]
    lines += [
        ".SH SEE ALSO",
        ", ".join(f"alphapulse\\-{esc(n)}(1)" for n in sorted(group.commands)) + ", wslog(5)",
    ]
    return "\n".join(lines) + "\n"


def wslog_page() -> str:
    from alphapulse_cli.wslog import format as fmt

    venues = "\n".join(
        f".TP\n.B {vid}\n{name}" for name, vid in sorted(VENUE_IDS.items(), key=lambda x: x[1])
    )
    kinds = "\n".join(f".TP\n.B {int(k)}\n{esc(n)}" for k, n in fmt.KIND_NAMES.items())
    return f""".TH WSLOG 5 "{DATE}" "alphapulse {__version__}" "alphapulse manual"
.SH NAME
wslog \\- the alphapulse raw WebSocket frame log, version {fmt.VERSION}
.SH DESCRIPTION
.PP
A .wslog file or stream holds every frame a collector received and sent, byte for byte as
on the wire, plus session events. All integers are little\\-endian. A stream is a
{fmt.PREAMBLE_SIZE}\\-byte preamble followed by records; a preamble may appear again at any
record boundary, so concatenated files are a valid stream.
.PP
.nf
preamble ({fmt.PREAMBLE_SIZE} bytes):
    magic     8 bytes   93 57 53 4C 4F 47 0D 0A  ("\\\\x93WSLOG\\\\r\\\\n")
    version   u16       {fmt.VERSION}
    flags     u16       0
    reserved  u32       0
record ({fmt.HEADER_SIZE}\\-byte header, then the message):
    timestamp_ns  u64   local receive time, ns since the Unix epoch
    exchange_id   u16   bits 0\\-7 venue, bits 8\\-11 connection slot, bits 12\\-15 kind
    message_len   u32
    raw_message   message_len bytes, exactly as received
.fi
.SH VENUE IDS
.TP
.B 0
none
{venues}
.SH KINDS
{kinds}
.PP
Session events (kind 2) are JSON objects with an "event" key: connect (with "url"),
disconnect (with "reason"), resync, continue (a connection carried over into a rotated file,
with its "url"), summary, and end. A clean close writes an end event last, so a reader can
tell a finished log from a writer that died. Just before it, collect writes one summary per
connection: what it counted in the records of that file, {{"event":"summary","in":N,
"integrity":{{"trades":..,"book_updates":..,"checksum_ok":..,"checksum_mismatch":..,"gaps":..,
"resyncs":..,"malformed":..}},"symbols":[..]}} ("in": the connection's inbound frames in the
file), so that compact(1) indexes the file without parsing it again. Readers that do not
know an event skip it; a summary changes no book and emits no normalized event.
.SH FILES
.PP
Collectors rotate hourly into DIR/<venue>/YYYYMMDD_HH.wslog (a numbered sibling
YYYYMMDD_HH.N.wslog when the name is taken) and hold an exclusive flock(2) on the file they
write. compact(1) turns closed files into .wslog.zst, one standard zstd frame with a content
checksum that zstd \\-d restores byte for byte; readers take either, and zstd\\-compressed
stdin, transparently.
.SH TRUNCATION
.PP
A cut\\-off last record (a writer killed mid\\-write) is reported by default with the file, the
byte offset and the number of bytes missing, and exit status 3; \\-\\-tail stop keeps every
complete record instead.
.SH SEE ALSO
alphapulse\\-replay(1), alphapulse\\-compact(1)
"""


def value_table() -> dict[str, dict[str, tuple[str, ...]]]:
    """What completes by value rather than by file name: command -> option (any of its
    spellings), "ARG" (the first positional) or "ARGS" (every positional) -> the values,
    taken from the constants the commands check against."""
    from alphapulse_cli.bench.registry import SUITES
    from alphapulse_cli.cli import query_cmd, replay_cmd, shm_dump_cmd
    from alphapulse_cli.collect.config import KRAKEN_DEPTHS, PROTOCOLS
    from alphapulse_cli.replay.merge import KIND_VALUES
    from alphapulse_cli.research.output import FORMATS as QUERY_FORMATS

    venues = tuple(sorted(VENUE_IDS))
    return {
        "bench": {"ARGS": tuple(SUITES)},
        "collect": {
            "ARG": venues,
            "--protocol": tuple(p for ps in PROTOCOLS.values() for p in ps),
            "--depth": tuple(map(str, KRAKEN_DEPTHS)),
        },
        "local-exchange": {"ARG": venues},
        "query": {"ARG": query_cmd.KINDS, "--format": QUERY_FORMATS, "--venue": venues},
        "replay": {
            "--format": replay_cmd.FORMATS,
            "--exchange": venues,
            "--kind": tuple(KIND_VALUES),
            "--tail": ("raise", "stop"),
        },
        "shm-dump": {"--format": shm_dump_cmd.FORMATS, "--exchange": venues},
    }


def value_options(cmd: Command, table: dict[str, tuple[str, ...]]) -> list[tuple[Any, Any]]:
    """(option, its values or None) for every option of `cmd` that takes a value."""
    out = []
    for p in cmd.params:
        if is_option(p) and not p.is_flag and not p.count:
            out.append((p, next((table[o] for o in p.opts if o in table), None)))
    return out


def all_params(cmd: Command) -> list[str]:
    out = []
    for p in cmd.params:
        if is_option(p):
            out.extend(o for o in p.opts + p.secondary_opts)
    return [*out, "--help"]


# Commands whose positionals are never paths: no file names offered for them.
NO_FILE_ARGS = ("bench", "collect", "local-exchange", "query", "shm-dump", "tail-stream")


def bash_completion(group: Command) -> str:
    table = value_table()
    cases, values, positional = [], [], []
    for name, cmd in sorted(group.commands.items()):
        vals = table.get(name, {})
        opts = value_options(cmd, vals)
        takes = " ".join(o for p, _ in opts for o in p.opts + p.secondary_opts)
        cases.append(f'        {name}) opts="{" ".join(all_params(cmd))}"; takes=" {takes} " ;;')
        for p, v in opts:
            if v is not None:
                pats = "|".join(f'"{name} {o}"' for o in p.opts + p.secondary_opts)
                values.append(f'        {pats}) words="{" ".join(v)}" ;;')
        if "ARGS" in vals:
            positional.append(f'        "{name} "*) words="{" ".join(vals["ARGS"])}" ;;')
        elif "ARG" in vals:
            positional.append(f'        "{name} 0") words="{" ".join(vals["ARG"])}" ;;')
        if name in NO_FILE_ARGS:
            positional.append(f'        "{name} "*) words="" ;;')
    names = " ".join(sorted(group.commands))
    nl = chr(10)
    return f"""# bash completion for alphapulse; generated from the CLI by scripts/gen_docs.py
# Enable: source this file from ~/.bashrc, or copy it to
# ~/.local/share/bash-completion/completions/alphapulse
_alphapulse() {{
    local cur prev cmd ci opts takes words npos w i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    cmd=""
    ci=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *) cmd="${{COMP_WORDS[i]}}"; ci=$i; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "{names} --version --help" -- "$cur"))
        return
    fi
    opts=""
    takes=" "
    case "$cmd" in
{nl.join(cases)}
    esac
    # The value of the option before the cursor: its choices, else a path.
    words="-"
    case "$cmd $prev" in
{nl.join(values)}
    esac
    if [[ "$words" != "-" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    if [[ "$takes" == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    npos=0
    for ((i = ci + 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        if [[ "$w" == -* ]]; then
            [[ "$takes" == *" $w "* ]] && ((i++))
            continue
        fi
        ((npos++))
    done
    case "$cmd $npos" in
{nl.join(positional)}
    esac
    if [[ "$words" != "-" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _alphapulse alphapulse
"""


def zsh_completion(group: Command) -> str:
    table = value_table()
    cmds = "\n".join(
        f"        '{name}:{split_help(cmd.help or '')[0].replace(chr(39), '')}'"
        for name, cmd in sorted(group.commands.items())
    )
    cases = []
    for name, cmd in sorted(group.commands.items()):
        vals = table.get(name, {})
        specs = []
        taking = {id(p): v for p, v in value_options(cmd, vals)}
        for p in cmd.params:
            if not is_option(p):
                continue
            for o in p.opts + p.secondary_opts:
                if id(p) not in taking:
                    specs.append(f"'{o}'")
                elif taking[id(p)] is not None:
                    specs.append(f"'{o}:value:({' '.join(taking[id(p)])})'")
                else:
                    specs.append(f"'{o}:value:_files'")
        specs.append("'--help'")
        if "ARGS" in vals:
            specs.append(f"'*:value:({' '.join(vals['ARGS'])})'")
        elif "ARG" in vals:
            specs.append(f"'1:value:({' '.join(vals['ARG'])})'")
            specs.append("'*:value: '")
        elif name in NO_FILE_ARGS:
            specs.append("'*:value: '")
        else:
            specs.append("'*:file:_files'")
        cases.append(f"        {name}) _arguments {' '.join(specs)} ;;")
    return f"""#compdef alphapulse
# zsh completion for alphapulse, generated by scripts/gen_docs.py from the CLI definition
# Enable: copy this file as _alphapulse into a directory on $fpath (before compinit).
_alphapulse() {{
    local -a commands
    commands=(
{cmds}
    )
    if (( CURRENT == 2 )); then
        _describe 'command' commands
        return
    fi
    words=("${{words[@]:1}}")
    (( CURRENT-- ))
    case "${{words[1]}}" in
{chr(10).join(cases)}
    esac
}}
_alphapulse "$@"
"""


def fish_completion(group: Command) -> str:
    table = value_table()
    lines = [
        "# fish completion for alphapulse, generated by scripts/gen_docs.py from the CLI "
        "definition",
        "# Enable: copy this file to ~/.config/fish/completions/alphapulse.fish",
    ]
    names = " ".join(sorted(group.commands))
    for name, cmd in sorted(group.commands.items()):
        vals = table.get(name, {})
        summary = split_help(cmd.help or "")[0].replace("'", "")
        lines.append(
            f"complete -c alphapulse -n 'not __fish_seen_subcommand_from {names}' -f -a {name} -d '{summary}'"  # noqa: E501
        )
        seen = f"__fish_seen_subcommand_from {name}"
        positional = vals.get("ARGS") or vals.get("ARG")
        if positional is not None:
            lines.append(f"complete -c alphapulse -n '{seen}' -f -a '{' '.join(positional)}'")
        elif name in NO_FILE_ARGS:
            lines.append(f"complete -c alphapulse -n '{seen}' -f")
        taking = {id(p): v for p, v in value_options(cmd, vals)}
        for p in cmd.params:
            if not is_option(p):
                continue
            for o in p.opts + p.secondary_opts:
                flag = f"-l {o[2:]}" if o.startswith("--") else f"-s {o[1:]}"
                desc = unstyle(p.help or "").replace("'", "").split(". ")[0]
                if id(p) in taking:
                    v = taking[id(p)]
                    flag += f" -x -a '{' '.join(v)}'" if v is not None else " -r -F"
                lines.append(f"complete -c alphapulse -n '{seen}' {flag} -d '{desc}'")
    return "\n".join(lines) + "\n"


def generate() -> dict[Path, str]:
    group = root_group()
    files: dict[Path, str] = {
        Path("man/alphapulse.1"): root_page(group),
        Path("man/wslog.5"): wslog_page(),
    }
    from alphapulse_cli.cli.shm_dump_cmd import RING_LAYOUT

    # The shm ring's layout is reference for other languages' readers: man page only.
    extra = {"shm-dump": [".SH RING LAYOUT", *man_paragraphs(RING_LAYOUT.split("\n\n"))]}
    for name, cmd in sorted(group.commands.items()):
        files[Path(f"man/alphapulse-{name}.1")] = man_page(
            f"alphapulse {name}", cmd, extra=extra.get(name)
        )
    files[Path("completions/alphapulse.bash")] = bash_completion(group)
    files[Path("completions/_alphapulse")] = zsh_completion(group)
    files[Path("completions/alphapulse.fish")] = fish_completion(group)
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if generated files are stale")
    args = ap.parse_args()
    files = generate()
    stale = []
    for rel, text in files.items():
        path = ROOT / rel
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(rel))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    known = {ROOT / r for r in files}
    extra = [
        str(p.relative_to(ROOT))
        for d in ("man", "completions")
        for p in (ROOT / d).glob("*")
        if p.is_file() and p not in known
    ]
    if args.check:
        if stale or extra:
            print("stale generated docs: " + ", ".join(stale + extra), file=sys.stderr)
            print("run: python scripts/gen_docs.py", file=sys.stderr)
            return 1
        return 0
    for p in extra:
        (ROOT / p).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
