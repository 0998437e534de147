"""Timestamp normalization: RFC 3339 and epoch text to integer nanoseconds."""

from __future__ import annotations

import datetime as dt

import pytest

from alphapulse_cli.core.times import epoch_text_to_ns, rfc3339_to_ns

BASE = int(dt.datetime(2014, 11, 7, 8, 19, 27, tzinfo=dt.timezone.utc).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2014-11-07T08:19:27Z", BASE),
        ("2014-11-07T08:19:27.5Z", BASE + 500_000_000),
        ("2014-11-07T08:19:27.028459Z", BASE + 28_459_000),
        ("2014-11-07T08:19:27.028459123Z", BASE + 28_459_123),
        ("2014-11-07T08:19:27.0284591239Z", BASE + 28_459_123),
        ("2014-11-07T09:19:27.028459+01:00", BASE + 28_459_000),
        ("2014-11-07T07:19:27-01:00", BASE),
    ],
)
def test_iso_ns_is_exact(text, ns):
    assert rfc3339_to_ns(text) == ns
    assert rfc3339_to_ns(text) == ns  # second time from the per-second cache


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2014-13-07T08:19:27Z",
        "2014-11-07T08:19:27",
        "2014-11-07T08:19:27.abcZ",
        None,
        5,
    ],
)
def test_iso_ns_rejects_without_raising(text):
    assert rfc3339_to_ns(text) is None


def test_epoch_text_to_ns():
    assert epoch_text_to_ns("1534614248.123678") == 1_534_614_248_123_678_000
    assert epoch_text_to_ns("1534614248") == 1_534_614_248_000_000_000
    for bad in ("", "x", "1.2.3", "-5.0", "1534614248.1234567890", None, "9" * 50):
        assert epoch_text_to_ns(bad) is None
