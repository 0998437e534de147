"""Trade-id continuity: new, duplicate, gap, and late fills of reported ranges."""

from __future__ import annotations

from alphapulse_cli.adapters.tradeids import MAX_RANGES, TradeIds


def test_continuity_gaps_and_fills():
    t = TradeIds()
    assert t.check("X", 10) == (True, None)  # baseline
    assert t.check("X", 11) == (True, None)
    assert t.check("X", 11) == (False, None)
    assert t.check("X", 20) == (True, (12, 20, 8))
    assert t.check("X", 15) == (True, None)  # fills the middle of 12..19
    assert t.check("X", 15) == (False, None)
    assert t.check("X", 12) == (True, None)
    assert t.check("X", 19) == (True, None)
    assert t.check("X", 9) == (False, None)  # older than the baseline: never reported
    assert t.check("X", 21) == (True, None)
    assert t.check("Y", 1) == (True, None)  # symbols are independent


def test_heartbeat_claims():
    t = TradeIds()
    assert t.claim("X", 50) is None  # no baseline: not following this symbol's trades
    t.check("X", 10)
    assert t.claim("X", 10) is None
    assert t.claim("X", 13) == (11, 13, 3)
    assert t.claim("X", 13) is None
    assert t.check("X", 11) == (True, None)  # late, inside the claimed range
    assert t.check("X", 14) == (True, None)  # 12 and 13 stay missing, no second gap
    assert t.check("X", 13) == (True, None)
    assert t.check("X", 16) == (True, (15, 16, 1))


def test_missing_ranges_are_bounded():
    t = TradeIds()
    t.check("X", 0)
    for i in range(1, 200):
        t.check("X", 2 * i)
    assert len(t._slow["X"].missing) == MAX_RANGES
    assert t.check("X", 1) == (False, None)  # given up on
    assert t.check("X", 397) == (True, None)
