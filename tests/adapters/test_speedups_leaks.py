"""The compiled kernels leak nothing: RSS and the GC's object count stay flat while the
edge-frame corpus (every frame the kernels hand back, plus the ones they handle) goes
through them again and again, with feed and with feed_into."""

from __future__ import annotations

import gc
import os
import sys

import pytest

from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.adapters.coinbase import CoinbaseAdapter
from alphapulse_cli.adapters.kraken import KrakenAdapter
from tests.adapters import test_speedups_kraken as kr
from tests.adapters.test_speedups import EDGES, SNAP, match
from tests.helpers.adapter_data import TS

speedups = pytest.importorskip("alphapulse_cli._speedups")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def corpora() -> list[tuple[Adapter, dict, list[bytes]]]:
    """(adapter, its connect event, its frames) per venue and protocol."""
    out: list[tuple[Adapter, dict, list[bytes]]] = [
        (
            CoinbaseAdapter(speedups=True),
            {"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"},
            [SNAP, *EDGES, SNAP, *(match(600 + i) for i in range(20)), *EDGES],
        )
    ]
    for version, snap, edges in (("v1", kr.V1_SNAP, kr.V1_EDGES), ("v2", kr.V2_SNAP, kr.V2_EDGES)):
        connect = {"event": "connect", "url": kr.URLS[version]}
        out.append((KrakenAdapter(speedups=True), connect, [snap, *edges, snap, *edges]))
    return out


def run_once(corpus: list[tuple[Adapter, dict, list[bytes]]], rounds: int) -> None:
    out = bytearray()
    for _ in range(rounds):
        for ad, connect, frames in corpus:
            ad.feed_session(connect, TS)
            for frame in frames:
                ad.feed(frame, TS)
                ad.feed_into(frame, TS, out)
            del out[:]


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_rss_and_gc_objects_stay_flat_over_ten_repetitions():
    corpus = corpora()
    speedups.reset_counters()
    run_once(corpus, 15)  # warm up: caches, interned texts, allocator pools
    assert speedups.counters()["coinbase"]["handled"] > 0
    assert speedups.counters()["kraken"]["handled"] > 0
    gc.collect()
    objects, rss = len(gc.get_objects()), rss_bytes()
    blocks = sys.getallocatedblocks()
    for _ in range(10):
        run_once(corpus, 15)
    gc.collect()
    # Each repetition feeds ~5,000 frames: one leaked object per frame would show as
    # 50,000 objects (GC-tracked or not: a leaked decoded Struct is not) or megabytes.
    assert len(gc.get_objects()) - objects < 200
    assert sys.getallocatedblocks() - blocks < 2_000
    assert rss_bytes() - rss < 2 * 1024 * 1024
