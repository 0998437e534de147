"""`alphapulse shm-dump`: print the shared-memory order-book ring; its help is the ring's
documentation (layout as C structs, the seqlock protocol, the memory-ordering assumption)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

import typer

from alphapulse_cli.cli.options import check_choice, split_list
from alphapulse_cli.errors import UsageError

FORMATS = ("auto", "jsonl", "ladder")


# The ring's documentation for readers in other languages: the man page's RING LAYOUT
# section (scripts/gen_docs.py), kept out of --help; tests/helpers/shm_docstruct.py checks
# the structs against shm/layout.py.
RING_LAYOUT = """\
Layout, version 1. Little-endian, offsets in bytes. The file is a header, then
capacity slots:

\b
    struct ap_ring_header {              /* at offset 0 */
        char     magic[8];               /*  0: "\\x93APSHM\\r\\n" */
        uint32_t version;                /*  8: 1 */
        uint32_t header_size;            /* 12: offset of slot 0 (multiple of 4096) */
        uint32_t entry_size;             /* 16: 828 */
        uint32_t slot_stride;            /* 20: bytes from slot to slot (896) */
        uint32_t capacity;               /* 24: number of slots */
        uint32_t max_levels;             /* 28: 50 */
        uint64_t write_seq;              /* 32: entries completely written */
        int32_t  writer_pid;             /* 40: last writer to open the ring */
        uint32_t writer_open;            /* 44: 1 open, 0 after a clean close */
        uint64_t writer_start_ns;        /* 48: when it opened it (Unix ns) */
        uint64_t created_ns;             /* 56: file creation (Unix ns) */
        uint32_t exchange_table_offset;  /* 64: row i names exchange_id i */
        uint32_t exchange_rows;          /* 68: 256 */
        uint32_t symbol_table_offset;    /* 72: row i names symbol_id i */
        uint32_t symbol_rows;            /* 76: rows reserved */
        uint32_t symbol_count;           /* 80: rows in use */
        uint32_t name_size;              /* 84: 32 */
        uint32_t entry_offset;           /* 88: 8, the entry inside a slot */
    } __attribute__((packed));           /* 92 bytes, then zeros */

\b
    struct ap_book_entry {               /* 828 bytes */
        uint64_t timestamp_ns;           /*   0: receive time, Unix ns */
        uint32_t symbol_id;              /*   8: row in the symbol table */
        uint32_t exchange_id;            /*  12: 1 coinbase, 2 kraken */
        float    bids[50][2];            /*  16: price, size; best first */
        float    asks[50][2];            /* 416: empty levels are 0, 0 */
        uint32_t sequence;               /* 816: write sequence, low 32 bits */
        uint8_t  padding[8];             /* 820: 0 */
    } __attribute__((packed));

\b
    struct ap_slot {                     /* header_size + k * slot_stride */
        uint64_t lock;                   /*   0: the slot's seqlock word */
        struct ap_book_entry entry;      /*   8 */
    };                                   /* then padding to slot_stride */

Names are NUL-padded UTF-8 in 32-byte rows (at most 31 bytes). Exchange ids are the
venue ids; names the venue table lacks get ids from 128 up. Symbol ids count from 0.

Protocol. Entry n (n entries were written before it) goes to slot n % capacity and has
write sequence n+1. The writer stores, in this order: lock = 2n+1 (odd: being written),
the whole entry, lock = 2n+2 (complete), then write_seq = n+1. A name row is written
before symbol_count covers it and before any entry uses its id. A reader keeps its own
position n: max(0, write_seq - capacity) for everything in the ring, write_seq for new
entries only. To read entry n it loads lock, copies the entry, and loads lock again;
the copy is valid only if both loads are 2n+2. A lock below 2n+1 means not written yet
and 2n+1 being written: try later. A lock above 2n+2 means the writer lapped the reader
and entry n is gone: skip to max(n+1, write_seq - capacity) and count the entries
skipped as lost. Readers never write to the ring, so any number can read at once.

Memory ordering. The writer (CPython) issues no fences. The protocol relies on the
x86-64 (TSO) model: stores become visible to other cores in program order, loads are
not reordered with other loads, and aligned 8-byte loads and stores are atomic. A C or
Rust reader on x86-64 needs only to stop its compiler reordering the three steps
(acquire loads of lock, or volatile loads and a compiler barrier), no CPU fence. On
weakly ordered CPUs (arm64) the writer would need release fences that Python cannot
issue: readers on other cores could see a torn entry there.

The writer holds an exclusive flock(2) on the file while it runs; a new writer takes
over a ring whose writer died and continues its write sequence (an entry the dead
writer completed but did not count in write_seq is kept and counted), and refuses to
start beside a live one. A new writer with another capacity replaces the file (readers
must reopen; shm-dump --follow does). Files are mode 0600 unless the writer got --shm-mode.
"""


def command(
    name: str = typer.Argument(
        ..., metavar="NAME", help="Ring name (/dev/shm/alphapulse/NAME) or a path."
    ),
    symbol: Optional[list[str]] = typer.Option(
        None, "--symbol", "-s", help="Only these symbols (BASE-QUOTE); repeat or comma-separate."
    ),
    exchange: Optional[list[str]] = typer.Option(
        None,
        "--exchange",
        "-e",
        help="Only these venues (coinbase, kraken); repeat or comma-separate.",
    ),
    follow: bool = typer.Option(
        False, "--follow", "-F", help="Print new entries as they are written, until interrupted."
    ),
    latest: bool = typer.Option(
        False, "--latest", help="Only the newest entry per book (exchange, symbol)."
    ),
    depth: Optional[int] = typer.Option(
        None,
        "--depth",
        "-d",
        min=1,
        max=50,
        help="Levels per side (default: 50 in JSON, 10 in a ladder).",
    ),
    count: Optional[int] = typer.Option(None, "--count", "-c", min=0, help="Stop after N entries."),
    stats: bool = typer.Option(
        False,
        "--stats",
        help="A one-line JSON summary on stderr at the end: capacity, write_seq, entries read "
        "and lost by this reader, writer pid and whether it is alive.",
    ),
    fmt: str = typer.Option(
        "auto", "--format", "-f", help="jsonl, ladder, or auto: a ladder on a terminal, else jsonl."
    ),
) -> None:
    """Print the entries of a shared-memory order-book ring.

    A ring is the file /dev/shm/alphapulse/NAME ($ALPHAPULSE_SHM_DIR/NAME when set; a NAME
    containing a slash is a path), written by `replay --shm NAME` or `collect --shm NAME`:
    one writer, any number of readers, and the writer never waits for a reader. Without
    --follow or --latest every entry still in the ring is printed, oldest first; --follow
    prints entries written from now on (after the newest per book with --latest).

    Output is JSON lines with exchange, symbol, ts (Unix ns: when the message that changed
    the book was received, its ts_local), sequence (the entry's 1-based write sequence),
    and bids and asks as [price, size] number pairs, best first, empty levels left out
    (at most 50 a side, the top of the book); on a terminal it is a depth ladder. Prices
    and sizes are float32 in the ring (converting the writer's decimal strings is the one
    lossy step) and are printed as the shortest decimal that reads back as the same float32.

    The ring's layout as C structs, the seqlock protocol a reader follows, the memory
    ordering it assumes and the writer's flock are in the man page (alphapulse-shm-dump(1),
    RING LAYOUT), for whoever writes a reader in another language.
    A missing ring, or a file that is not a ring, is a one-line error and exit status 3.

    Examples:

        alphapulse shm-dump orderbook --latest

        alphapulse shm-dump orderbook --symbol BTC-USD --follow --depth 5

        alphapulse shm-dump orderbook --stats --count 0

        alphapulse pin 1 -- alphapulse shm-dump orderbook --follow --format jsonl | jq -c .bids[0]
    """
    from alphapulse_cli.shm.dump import DumpOptions, RingDump

    check_choice(fmt, FORMATS, "--format")
    ladder = fmt == "ladder" or (fmt == "auto" and sys.stdout.isatty())
    opts = DumpOptions(
        symbols=split_list(symbol),
        exchanges=split_list(exchange),
        follow=follow,
        latest=latest,
        depth=depth or (10 if ladder else 50),
        count=count,
    )
    if not 1 <= opts.depth <= 50:
        raise UsageError(f"--depth {opts.depth}: expected 1 to 50")
    dump = RingDump(name, opts)
    try:
        if ladder:
            _ladder(dump)
        else:
            _jsonl(dump)
    except BrokenPipeError:
        # `| head`: done, quietly. Handled here because click turns EPIPE into exit 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    finally:
        if stats:
            import json

            print(json.dumps(dump.stats()), file=sys.stderr, flush=True)
        dump.close()


def _jsonl(dump: Any) -> None:
    from alphapulse_cli.shm.dump import entry_json

    out = sys.stdout.buffer
    depth = dump.opts.depth
    buf: list[bytes] = []
    size = 0
    for e in dump.entries():
        if e is None:
            if buf:
                out.write(b"".join(buf))
                out.flush()
                buf.clear()
                size = 0
            continue
        line = entry_json(e, depth)
        buf.append(line)
        size += len(line)
        if size >= 1 << 16:
            out.write(b"".join(buf))
            buf.clear()
            size = 0
    if buf:
        out.write(b"".join(buf))
    out.flush()


def _num(x: float) -> str:
    import numpy as np

    return np.format_float_positional(np.float32(x), trim="-")


def _table(e: Any, depth: int) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from alphapulse_cli.core.times import ns_to_rfc3339

    stamp = ns_to_rfc3339(e.ts_ns, 9)
    title = f"{e.exchange} {e.symbol}  seq {e.sequence}  {stamp}"
    t = Table(box=None, pad_edge=False)
    for col, style in (
        ("bid size", "green"),
        ("bid", "bold green"),
        ("ask", "bold red"),
        ("ask size", "red"),
    ):
        t.add_column(col, justify="right", style=style)
    bids, asks = e.bids(depth), e.asks(depth)
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        t.add_row(
            _num(b[1]) if b else "",
            _num(b[0]) if b else "",
            _num(a[0]) if a else "",
            _num(a[1]) if a else "",
        )
    return Group(Text(title, style="bold"), t)


def _ladder(dump: Any) -> None:
    from rich.console import Console, Group
    from rich.live import Live

    console = Console(file=sys.stdout, highlight=False)
    depth = dump.opts.depth
    if not dump.opts.follow:
        for e in dump.entries():
            if e is not None:
                console.print(_table(e, depth))
                console.print()
        return
    books: dict[tuple[str, str], Any] = {}
    last = 0.0
    with Live(console=console, auto_refresh=False, transient=False) as live:
        for e in dump.entries():
            if e is not None:
                books[(e.exchange, e.symbol)] = e
            now = time.monotonic()
            if books and (e is None or now - last >= 0.1):
                tables = [_table(b, depth) for _, b in sorted(books.items())]
                live.update(Group(*tables), refresh=True)
                last = now
