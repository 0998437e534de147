"""L2Book: exact price keys, zero removal, ordering, truncation, all-or-nothing messages,
and a property test against a plain Decimal model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphapulse_cli.core.book import L2Book, size_is_zero


def test_snapshot_and_top_are_best_first():
    b = L2Book()
    b.load([["100.5", "1"], ["101", "2"], ["99.25", "3"]], [["103", "1"], ["102.75", "4"]])
    bids, asks = b.top(10)
    assert bids == [["101", "2"], ["100.5", "1"], ["99.25", "3"]]
    assert asks == [["102.75", "4"], ["103", "1"]]
    assert b.top(1) == ([["101", "2"]], [["102.75", "4"]])
    assert len(b) == 5 and not b.crossed()


@pytest.mark.parametrize("zero", ["0", "0.0", "0.00000000", "00.000"])
def test_numerically_zero_sizes_remove(zero):
    b = L2Book()
    b.load([["100.5", "1"], ["101", "2"]], [])
    b.update("bid", "101.000", zero)
    assert b.top(5)[0] == [["100.5", "1"]]
    b.update("bid", "55", zero)  # removing an absent level changes nothing
    assert len(b) == 1


def test_size_is_zero():
    assert size_is_zero("0") and size_is_zero("0.00000000")
    assert not size_is_zero("0.00000001")
    for bad in ("", "-1", "abc", "nan", "inf", "1.2.3", "٣"):
        with pytest.raises(ValueError):
            size_is_zero(bad)


def test_prices_are_exact_not_floats():
    # These two collide as floats (0.1 + 0.2 != 0.3 style): as keys they must not.
    a, c = "0.30000000000000004", "0.3"
    assert float(a) != float(c)  # distinct...
    b = L2Book()
    b.load([[a, "1"], [c, "2"], ["0.30000000000000003", "3"]], [])
    assert len(b.top(10)[0]) == 3
    # ...and prices beyond float precision stay apart too.
    b2 = L2Book()
    b2.load([["12345678901234567.1", "1"], ["12345678901234567.2", "1"]], [])
    assert float("12345678901234567.1") == float("12345678901234567.2")
    assert b2.top(5)[0] == [["12345678901234567.2", "1"], ["12345678901234567.1", "1"]]


def test_equal_prices_in_different_text_are_one_level():
    b = L2Book()
    b.load([["10101.10", "1"]], [])
    b.update("buy", "10101.1", "2")
    b.update("buy", "10101.10000000", "3")
    assert b.top(5)[0] == [["10101.10", "3"]]  # the level keeps its first price text


def test_a_removed_level_that_returns_takes_its_new_text():
    b = L2Book()
    b.load([["3.0", "1"], ["4", "1"]], [])
    b.update("bid", "3", "0")
    b.update("bid", "3.00", "2")
    assert b.top(5)[0] == [["4", "1"], ["3.00", "2"]]


def test_more_decimals_rescale_the_book():
    b = L2Book(scale=2)
    b.load([["1.25", "1"], ["1.3", "1"]], [["1.40", "1"]])
    b.update("bid", "1.255", "7")
    b.update("ask", "1.3999999999", "2")
    assert b.scale == 10
    bids, asks = b.top(5)
    assert bids == [["1.3", "1"], ["1.255", "7"], ["1.25", "1"]]
    assert asks == [["1.3999999999", "2"], ["1.40", "1"]]


def test_bad_levels_leave_the_book_untouched():
    b = L2Book()
    b.load([["1", "1"]], [["2", "1"]])
    before = b.top(10)
    for bids, asks in (
        ([["1.5", "1"]], [["x", "1"]]),
        ([["1.5", "1"]], [["2.5", "-3"]]),
        ([["1.5", "1"]], [["2.5"]]),
        ([["-1.5", "1"]], []),
        ([["1.5", 1]], []),
    ):
        with pytest.raises(ValueError):
            b.apply(bids, asks)
        with pytest.raises(ValueError):
            b.load(bids, asks)
        assert b.top(10) == before
    out_b: list = []
    out_a: list = []
    with pytest.raises(ValueError):
        b.apply_changes([("buy", "1.5", "1"), ("sell", "2.5", "x")], out_b, out_a)
    assert b.top(10) == before


def test_apply_changes_fills_the_changed_levels():
    b = L2Book()
    b.load([["1", "1"]], [["2", "1"]])
    bids: list = []
    asks: list = []
    b.apply_changes([("buy", "1.5", "2"), ("sell", "2", "0"), ("sell", "2.5", "3")], bids, asks)
    assert bids == [["1.5", "2"]] and asks == [["2", "0"], ["2.5", "3"]]
    assert b.top(5) == ([["1.5", "2"], ["1", "1"]], [["2.5", "3"]])


def test_truncate_keeps_the_best_levels():
    b = L2Book()
    b.load([[str(100 - i), "1"] for i in range(20)], [[str(200 + i), "1"] for i in range(20)])
    b.update("bid", "99", "0")  # a removed key inside the range that truncation walks
    b.truncate(5)
    bids, asks = b.top(50)
    assert [p for p, _ in bids] == ["100", "98", "97", "96", "95"]
    assert [p for p, _ in asks] == ["200", "201", "202", "203", "204"]
    assert len(b) == 10
    b.update("bid", "80", "1")
    assert b.top(50)[0][-1] == ["80", "1"]


def test_crossed():
    b = L2Book()
    b.load([["10", "1"]], [["10", "1"]])
    assert b.crossed()


def test_removed_levels_compact_away():
    b = L2Book()
    b.load([], [])
    for i in range(5000):
        b.update("ask", f"{1000 + i}.5", "1")
        b.update("ask", f"{1000 + i}.5", "0")
    assert len(b) == 0 and b.top(5) == ([], [])
    assert len(b.asks.keys) < 1000  # compacted, not 5000 dead keys


OPS = st.lists(
    st.tuples(
        st.sampled_from(["bid", "ask"]),
        st.integers(min_value=1, max_value=12),
        st.sampled_from(["", "0", "00", "5", "50", "125"]),
        st.sampled_from(["0", "0.000", "1", "2.5", "0.00000001", "17.250"]),
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(OPS, st.integers(min_value=1, max_value=40), st.one_of(st.none(), st.integers(1, 30)))
def test_matches_a_decimal_model(ops, n, depth):
    book = L2Book(scale=1)
    model: dict[str, dict[Decimal, tuple[str, str]]] = {"bid": {}, "ask": {}}
    for side, whole, frac, size in ops:
        price = f"{whole}.{frac}" if frac else str(whole)
        book.update(side, price, size)
        levels = model[side]
        key = Decimal(price)
        if Decimal(size) == 0:
            levels.pop(key, None)
        else:
            first_text = levels[key][0] if key in levels else price
            levels[key] = (first_text, size)
        if depth is not None:
            book.truncate(depth)
            for s, rev in (("bid", True), ("ask", False)):
                keep = sorted(model[s], reverse=rev)[:depth]
                model[s] = {k: model[s][k] for k in keep}
    want_bids = [list(model["bid"][k]) for k in sorted(model["bid"], reverse=True)[:n]]
    want_asks = [list(model["ask"][k]) for k in sorted(model["ask"])[:n]]
    assert book.top(n) == (want_bids, want_asks)
    assert len(book) == len(model["bid"]) + len(model["ask"])
