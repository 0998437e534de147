"""Trade-id continuity per symbol: which trades are new, which were skipped, and which late
arrivals fill a gap reported earlier (a resubscribe's trade snapshot, a match that comes
after the heartbeat that announced it).

Per symbol: `last`, the highest id emitted; `covered`, the highest id emitted or reported
missing (a heartbeat can announce ids not seen yet); `missing`, the reported ranges not yet
filled. While nothing is missing (nearly always) only `next` = last + 1 is kept, so the
common case costs one lookup and one store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_RANGES = 64  # a gap older than this many others is given up on


@dataclass(slots=True)
class _State:
    last: int
    covered: int
    missing: list[list[int]] = field(default_factory=list)  # [lo, hi] inclusive


Gap = tuple[int, int, int]  # (first missing id, id that revealed it, count missing)


class TradeIds:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}
        self._slow: dict[str, _State] = {}

    def _state(self, sym: str) -> _State | None:
        nxt = self.next.pop(sym, None)
        if nxt is not None:
            return _State(nxt - 1, nxt - 1)
        return self._slow.pop(sym, None)

    def _store(self, sym: str, st: _State) -> None:
        if not st.missing and st.covered == st.last:
            self.next[sym] = st.last + 1
        else:
            del st.missing[:-MAX_RANGES]
            self._slow[sym] = st

    def check(self, sym: str, tid: int) -> tuple[bool, Gap | None]:
        """(emit this trade?, the gap it reveals). A trade is emitted once: an id already
        emitted is a duplicate, unless it fills a range reported missing."""
        if self.next.get(sym) == tid:
            self.next[sym] = tid + 1
            return True, None
        st = self._state(sym)
        if st is None:  # the first trade seen sets the baseline
            self.next[sym] = tid + 1
            return True, None
        gap = None
        try:
            if tid <= st.covered:
                filled = _fill(st.missing, tid)
                if tid <= st.last:
                    return filled, None
            elif tid > st.covered + 1:
                gap = (st.covered + 1, tid, tid - st.covered - 1)
                st.missing.append([st.covered + 1, tid - 1])
            st.last = max(st.last, tid)
            st.covered = max(st.covered, tid)
            return True, gap
        finally:
            self._store(sym, st)

    def claim(self, sym: str, last_tid: int) -> Gap | None:
        """The venue says trades up to `last_tid` exist: report ids not seen as missing.
        Only for symbols whose trades we follow (a first trade set the baseline)."""
        if sym not in self.next and sym not in self._slow:
            return None
        st = self._state(sym)
        assert st is not None
        try:
            if last_tid <= st.covered:
                return None
            gap = (st.covered + 1, last_tid, last_tid - st.covered)
            st.missing.append([st.covered + 1, last_tid])
            st.covered = last_tid
            return gap
        finally:
            self._store(sym, st)


def _fill(missing: list[list[int]], tid: int) -> bool:
    """Take `tid` out of the missing ranges; False if it was not missing."""
    for i, (lo, hi) in enumerate(missing):
        if lo <= tid <= hi:
            if lo == hi:
                del missing[i]
            elif tid == lo:
                missing[i][0] = lo + 1
            elif tid == hi:
                missing[i][1] = hi - 1
            else:
                missing[i : i + 1] = [[lo, tid - 1], [tid + 1, hi]]
            return True
    return False
