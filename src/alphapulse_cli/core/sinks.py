"""Event sinks: where normalized events go besides stdout (Redis streams, the shm ring).

A sink receives, for each message that produced events, the adapter that produced them
(it holds the books, so a sink can read the top of book after a change), the record's
local receive time and the events. `replay` and `collect` drive sinks the same way, so a
log replayed into a sink gives what the live capture gave.

A sink must never raise into its caller for trouble on its own side (a dead Redis, a busy
ring): it counts the trouble and reports it in `close()`'s summary, which `--stats` and the
status view print under the sink's `name`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from alphapulse_cli.adapters.base import Adapter
    from alphapulse_cli.core.derive import Normalizer, Record


class EventSink(Protocol):
    name: str

    def handle(self, adapter: Adapter, ts_local: int, events: list[dict[str, Any]]) -> None:
        """Take the events of one message; cheap, and never blocking on I/O."""

    def close(self) -> dict[str, Any]:
        """Finish (flush what is queued, within the sink's own limits); return counters."""


def drive(records: Iterable[Record], normalizer: Normalizer, sinks: Sequence[EventSink]) -> None:
    """Feed every record through `normalizer` and hand the resulting events to each sink."""
    process = normalizer.process
    for ts, tag, payload in records:
        events = process(ts, tag, payload)
        if events:
            adapter = normalizer.last_adapter
            if adapter is None:
                continue
            for sink in sinks:
                sink.handle(adapter, ts, events)


def close_all(sinks: Sequence[EventSink]) -> dict[str, Any]:
    """Close every sink even when one fails; the summaries by sink name."""
    out: dict[str, Any] = {}
    first_error: BaseException | None = None
    for sink in sinks:
        try:
            out[sink.name] = sink.close()
        except BaseException as exc:  # close the others before re-raising
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return out
