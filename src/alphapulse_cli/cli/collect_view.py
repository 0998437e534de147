"""The live terminal view of `collect`: a per-symbol table on stderr, redrawn twice a second,
with notable events scrolling above it. Used only when stderr is a terminal."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

WIDE = 120  # columns from which the table shows the last trade in full and the spread

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class LiveReporter:
    def __init__(
        self, quiet: bool = False, color: bool = True, console: Console | None = None
    ) -> None:
        self.console = console or Console(stderr=True, no_color=not color, highlight=False)
        self.quiet = quiet
        self.live: Live | None = None
        self._totals: dict[str, Any] = {}
        if not quiet:
            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()

    def event(self, level: str, kind: str, fields: dict[str, Any]) -> None:
        if self.quiet and level != "error":
            return
        detail = " ".join(f"{k}={v}" for k, v in fields.items() if k != "venue" and v is not None)
        style = _STYLE.get(level, "")
        self.console.print(f"[{style}]{level:<7}[/] {kind:<18} {detail}", markup=True)

    def tick(self, rows: list[dict[str, Any]], totals: dict[str, Any]) -> None:
        if self.live is None:
            return
        self._totals = totals
        parts = [
            totals["venue"],
            f"frames {totals['frames_in']:,}",
            f"{totals['frames_per_s']:,.0f}/s",
            f"in {_size(totals['bytes_in'])}",
            f"written {_size(totals['bytes_written'] or 0)}",
            f"reconnects {totals['reconnects']}",
            f"malformed {totals['malformed']}",
        ]
        if totals["sink_errors"]:
            parts.append(f"sink errors {totals['sink_errors']}")
        for name, st in (totals.get("sinks") or {}).items():
            parts.append(f"{name} {_sink_brief(st)}")
        if totals["parse_backlog"]:
            parts.append(f"parse backlog {totals['parse_backlog']:,}")
        title = _pack(parts, self.console.width)
        # The title above the table, not in it: it may be wider than the table's columns.
        table = status_table(rows, wide=self.console.width >= WIDE)
        self.live.update(Group(Text(title, no_wrap=True), table), refresh=True)

    def close(self, summary: dict[str, Any]) -> None:
        if self.live is not None:
            self.live.stop()
        if self.quiet:
            return
        lat = summary.get("latency") or {}
        self.console.print(
            f"stopped ({summary.get('stop_reason')}): {summary['frames_in']:,} frames in, "
            f"{summary['frames_out']} out, {summary['reconnects']} reconnects, "
            f"{summary['gaps']} gaps, {summary['checksum_mismatch']} checksum failures, "
            f"{summary['malformed']} malformed; receive-to-written p99 "
            f"{lat.get('p99_ms')} ms; files: {', '.join(summary['files']) or '-'}",
            markup=False,
        )


def _pack(parts: list[str], width: int) -> str:
    """The title's items on as few lines as fit `width`, broken between items only."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "  " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def status_table(rows: list[dict[str, Any]], wide: bool) -> Table:
    """The per-symbol table. Below WIDE columns (an 80-column terminal) it drops the
    spread and shows the last trade as its price and side, keeps symbols whole, and draws
    no cell borders, so two symbols fit in 80 columns without truncating anything."""
    table = Table(
        expand=False,
        box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD,
        show_edge=wide,
        pad_edge=wide,
    )
    cols = ["symbol", "msg/s", "last trade", "bid", "ask"]
    cols += ["spread", "gaps", "cksum fail"] if wide else ["gaps/ck"]
    for col in [*cols, "bytes"]:
        table.add_column(
            col, justify="left" if col == "symbol" else "right", no_wrap=True, overflow="fold"
        )
    for r in rows:
        t = r["last_trade"]
        if not t:
            trade = "-"
        elif wide:
            trade = f"{t['side']} {t['size']} @ {t['price']}"
        else:
            trade = f"{t['price']} {t['side'][:1]}"
        cells = [r["symbol"], f"{r['msgs_per_s']:,.0f}", trade, r["bid"] or "-", r["ask"] or "-"]
        if wide:
            cells += [r["spread"] or "-", str(r["gaps"]), str(r["checksum_failures"])]
        else:
            cells.append(f"{r['gaps']}/{r['checksum_failures']}")
        table.add_row(*cells, _size(r["bytes"]))
    return table


def _sink_brief(st: dict[str, Any]) -> str:
    if "published" in st:
        state = "up" if st.get("connected") else "DOWN"
        text = f"{state} {st['published']:,} published"
        if st.get("dropped"):
            text += f", {st['dropped']:,} dropped"
        if st.get("queue"):
            text += f", queue {st['queue']:,}"
        return text
    if "written" in st:
        return f"{st['written']:,} written" + (
            f", {st['errors']} errors" if st.get("errors") else ""
        )
    return ", ".join(f"{k} {v}" for k, v in st.items() if isinstance(v, int | str))[:60]
