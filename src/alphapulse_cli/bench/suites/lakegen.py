"""The lake the `query` bench reads: DAYS days x 2 symbols x TRADES_PER_DAY trades a day on
coinbase, one hour of it captured from the local exchange with 1,000-level books.

The captured hour is real traffic through the real code path: the local exchange's market
model and Coinbase session (exchange/), driven on a simulated clock the way its server
drives them (a burst of market events every TICK, the session's timers after each burst),
subscribed as collect subscribes, recorded by collect's hourly RotatingWriter, then exported
by compact's library call with 60 s checkpoints (`compact DATA_DIR --parquet LAKE
--checkpoint-every 60s`). Its trades, book updates and book checkpoints are what compact
writes, and its raw log is kept beside the lake for the replay comparison.

Every other hour's trades are generated with numpy straight into the lake's layout and
schema (compact.lake: partition_dir, open_writer, ROW_GROUP), one file per hour as hourly
logs leave them: receive times of a Poisson flow, exchange times a few ms earlier (us
precision), consecutive trade ids, a geometric random walk of the price (3% a day) with
buys at the ask tick and sells at the bid tick, log-normal sizes with 8 decimals. The walk
and the ids are joined to the captured hour's, so the whole series is continuous.

Built once per VERSION and size and cached under $ALPHAPULSE_BENCH_CACHE (default:
$XDG_CACHE_HOME/alphapulse, else ~/.cache/alphapulse); the directory is renamed into place
complete, so an interrupted build leaves nothing that a later run would trust.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alphapulse_cli.compact.lake import DAY_NS, DECIMAL_PRECISION, DECIMAL_SCALE, ROW_GROUP
from alphapulse_cli.compact.scan import TMP_PREFIX

VERSION = "bench-lake-v1"
VENUE = "coinbase"
SYMBOLS = ("BTC-USD", "ETH-USD")
FIRST_DAY = 20_454  # 2026-01-01, in days since the epoch
HOUR_NS = 3_600_000_000_000
CHECKPOINT_EVERY_NS = 60_000_000_000
CAPTURE_HOUR = 14  # UTC, on the day DAYS * 8 // 15 (2026-01-17 for 30 days)
# market._trade fills one level 80% of the time and two 20%: 1.2 trades per trade event.
FILLS_PER_TRADE_EVENT = 1.2
DAILY_VOL = 0.03
MEDIAN_NOTIONAL = 300.0  # quote units; sizes are log-normal around it
CAPTURE_URL = "ws://127.0.0.1:8765"


@dataclass(frozen=True)
class LakeSpec:
    days: int = 30
    trades_per_day: int = 500_000  # per symbol
    rate: float = 400.0  # market events/s in the captured hour, both symbols together
    levels: int = 1000  # per side
    seed: int = 15

    @property
    def key(self) -> str:
        return (
            f"{VERSION}-{self.days}d-{self.trades_per_day}t-{self.rate:g}r-{self.levels}l-"
            f"s{self.seed}"
        )

    @property
    def trade_share(self) -> float:
        """The market's trade share that gives the captured hour the lake's trade rate."""
        per_s = self.trades_per_day / 86_400 * len(SYMBOLS)
        return per_s / (self.rate * FILLS_PER_TRADE_EVENT)

    @property
    def capture_start(self) -> int:
        return (FIRST_DAY + self.days * 8 // 15) * DAY_NS + CAPTURE_HOUR * HOUR_NS


@dataclass(frozen=True)
class GeneratedLake:
    root: Path
    meta: dict[str, Any]

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def raw_log(self) -> Path:
        return self.root / self.meta["raw_log"]

    @property
    def hour(self) -> tuple[int, int]:
        """The captured hour, [start, end] in ns, both inclusive."""
        start = int(self.meta["capture_start"])
        return start, start + HOUR_NS - 1


def cache_dir() -> Path:
    env = os.environ.get("ALPHAPULSE_BENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "alphapulse"


def ensure(spec: LakeSpec, log: Callable[[str], None] = lambda m: None) -> GeneratedLake:
    """The cached lake for `spec`, built first if there is none."""
    root = cache_dir() / spec.key
    meta = root / "meta.json"
    if meta.is_file():
        return GeneratedLake(root, json.loads(meta.read_text()))
    tmp = root.with_name(f"{TMP_PREFIX}{root.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = build(spec, tmp, log)
        (tmp / "meta.json").write_text(json.dumps(info, indent=1) + "\n")
        try:
            os.rename(tmp, root)
        except OSError:  # another run finished first: use its copy
            if not meta.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GeneratedLake(root, json.loads(meta.read_text()))


def build(spec: LakeSpec, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from alphapulse_cli.compact.run import CompactRequest, run_compact

    start = spec.capture_start
    lake = out / "lake"
    data = out / "capture"
    t0 = time.perf_counter()
    log(f"query: capturing one hour of {', '.join(SYMBOLS)} from the local exchange ...")
    hourly = capture(data, spec, start)
    raw = out / "raw" / VENUE / hourly.name
    raw.parent.mkdir(parents=True)
    shutil.copyfile(hourly, raw)
    t1 = time.perf_counter()
    log("query: compact --parquet --checkpoint-every 60s on it ...")
    run_compact(CompactRequest(data_dir=data, lake=lake, checkpoint_every_ns=CHECKPOINT_EVERY_NS))
    shutil.rmtree(data)
    t2 = time.perf_counter()
    n = spec.days * spec.trades_per_day * len(SYMBOLS)
    log(f"query: generating {n:,} trades over {spec.days} days ...")
    rows: dict[str, int] = {}
    captured: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(2) as pool:
        for k, sym in enumerate(SYMBOLS):
            captured[sym] = _captured(lake, sym, start)
            rows[sym] = _generate(lake, spec, k, sym, captured[sym], pool)
    t3 = time.perf_counter()
    return {
        "version": VERSION,
        "spec": asdict(spec),
        "capture_start": start,
        "raw_log": raw.relative_to(out).as_posix(),
        "raw_bytes": raw.stat().st_size,
        "generated_trades": rows,
        "captured_trades": {s: c["count"] for s, c in captured.items()},
        "seconds": {
            "capture": round(t1 - t0, 1),
            "compact": round(t2 - t1, 1),
            "trades": round(t3 - t2, 1),
        },
    }


# ---- the captured hour -----------------------------------------------------------------
def capture(data_dir: Path, spec: LakeSpec, start: int) -> Path:
    """One hour of Coinbase traffic for SYMBOLS into data_dir/coinbase/YYYYMMDD_HH.wslog, as
    collect records it: connect event, subscribe, every inbound frame, end of log."""
    from alphapulse_cli.bench.suites.recorded import SUBSCRIBES
    from alphapulse_cli.exchange.coinbase import CoinbaseSession
    from alphapulse_cli.exchange.faults import NO_FAULTS
    from alphapulse_cli.exchange.instruments import listing
    from alphapulse_cli.exchange.market import Market
    from alphapulse_cli.exchange.server import TICK
    from alphapulse_cli.exchange.session import Settings
    from alphapulse_cli.exchange.stats import ConnStats
    from alphapulse_cli.venues_table import venue_id
    from alphapulse_cli.wslog.format import Kind, make_tag
    from alphapulse_cli.wslog.writer import RotatingWriter

    market = Market(
        VENUE,
        listing(VENUE, list(SYMBOLS)),
        seed=spec.seed,
        levels=spec.levels,
        trade_share=spec.trade_share,
        now_ns=start,
    )
    stats = ConnStats(1, "coinbase", "/", "127.0.0.1:0", start)
    session = CoinbaseSession(market, stats, NO_FAULTS, Settings(seed=spec.seed), start)
    vid = venue_id(VENUE)
    writer = RotatingWriter(data_dir, VENUE)
    writer.write_event(start, {"event": "connect", "url": CAPTURE_URL})
    now = start + 1_000_000
    for sub in SUBSCRIBES[VENUE]:
        body = json.dumps(sub).encode()
        writer.write(now, make_tag(vid, Kind.OUT), body)
        session.receive(body, now)
    path = writer.path
    assert path is not None
    tag = make_tag(vid, Kind.IN)
    write, step = writer.write, market.step
    tick = int(TICK * 1e9)
    per_tick = spec.rate * TICK
    end = start + HOUR_NS - 10_000_000  # the last burst's frames stay inside the hour
    due = 0.0
    while now < end:
        now += tick
        market.set_time(now)
        due += per_tick
        n = int(due)
        due -= n
        for _ in range(n):
            step()
        session.on_clock(now)
        if session.out:
            # Received a moment after the burst, 1 us apart.
            t = now + 50_000
            for frame in session.out:
                write(t, tag, frame)
                t += 1000
            session.out = []
    writer.close(start + HOUR_NS - 1)
    return path


def _captured(lake: Path, symbol: str, start: int) -> dict[str, Any]:
    """The captured hour's trades of `symbol` as compact wrote them: count, first and last
    id and price."""
    import pyarrow.parquet as pq

    from alphapulse_cli.compact.lake import date_text, partition_dir

    d = partition_dir(lake, "trades", VENUE, symbol, date_text(start // DAY_NS))
    table = pq.read_table(sorted(d.glob("*.parquet")), columns=["trade_id", "price"])
    ids = table.column("trade_id").to_pylist()
    prices = table.column("price").to_pylist()
    return {
        "count": table.num_rows,
        "first_id": int(ids[0]),
        "last_id": int(ids[-1]),
        "first_price": float(prices[0]),
        "last_price": float(prices[-1]),
    }


# ---- the generated hours ---------------------------------------------------------------
def _decimal(units: Any, scale: int) -> Any:
    """int64 values in units of 10**-scale -> exact decimal128(38, 18)."""
    import numpy as np
    import pyarrow as pa

    words = np.empty((len(units), 2), np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # the sign extension of a 128-bit two's complement
    arr = pa.Array.from_buffers(pa.decimal128(38, scale), len(units), [None, pa.py_buffer(words)])
    return arr.cast(pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE))


def _strings(index: Any, values: list[str]) -> Any:
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(index), pa.array(values)).dictionary_decode()


def _generate(
    lake: Path, spec: LakeSpec, k: int, symbol: str, cap: dict[str, Any], pool: ThreadPoolExecutor
) -> int:
    import numpy as np
    import pyarrow as pa

    from alphapulse_cli.compact.lake import _schema
    from alphapulse_cli.exchange.instruments import instrument

    inst = instrument(VENUE, symbol)
    rng = np.random.default_rng([spec.seed, k])
    per_day = spec.trades_per_day
    days = np.arange(FIRST_DAY, FIRST_DAY + spec.days, dtype=np.int64)
    offsets = np.sort(rng.integers(0, DAY_NS, size=(spec.days, per_day)), axis=1)
    ts = (offsets + days[:, None] * DAY_NS).ravel()
    del offsets
    start = spec.capture_start
    ts = ts[(ts < start) | (ts >= start + HOUR_NS)]  # that hour is the captured one
    n = len(ts)
    cut = int(np.searchsorted(ts, start))
    # The price: a geometric random walk joined to the captured hour at both ends.
    walk = np.cumsum(rng.standard_normal(n) * (DAILY_VOL / np.sqrt(per_day)))
    if cut:
        walk[:cut] += np.log(cap["first_price"]) - walk[cut - 1]
    if cut < n:
        walk[cut:] += np.log(cap["last_price"]) - walk[cut]
    mid = np.exp(walk) * (inst.price_scale / inst.tick_units)  # in ticks
    del walk
    sell = rng.random(n) < 0.5
    price = np.where(sell, np.floor(mid), np.ceil(mid)).astype(np.int64) * inst.tick_units
    notional = rng.lognormal(np.log(MEDIAN_NOTIONAL), 1.6, n)
    per_tick = 10**inst.qty_precision * inst.price_scale / inst.tick_units  # lots per quote unit
    lots = np.maximum(1, np.rint(notional / mid * per_tick)).astype(np.int64)
    del mid, notional
    ids = np.empty(n, np.int64)
    ids[:cut] = cap["first_id"] - cut + np.arange(cut)
    ids[cut:] = cap["last_id"] + 1 + np.arange(n - cut)
    latency = 1_000_000 + rng.exponential(2_000_000, n).astype(np.int64)
    ts_exchange = (ts - latency) // 1000 * 1000
    stamp = pa.timestamp("ns")
    schema = _schema("trades")
    table = pa.Table.from_arrays(
        [
            pa.array(ts, stamp),
            pa.array(ts_exchange, stamp),
            _decimal(price, inst.price_precision),
            _decimal(lots, inst.qty_precision),
            _strings(sell.astype(np.int8), ["buy", "sell"]),
            pa.array(ids).cast(pa.string()),
            _strings(np.zeros(n, np.int8), [symbol]),
        ],
        schema=schema,
    )
    hours = np.arange(ts[0] // HOUR_NS, ts[-1] // HOUR_NS + 2, dtype=np.int64)
    bounds = np.searchsorted(ts, hours * HOUR_NS)
    jobs = [
        pool.submit(_write_hour, lake, symbol, int(h), table.slice(a, b - a))
        for h, a, b in zip(hours[:-1], bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]
    for job in jobs:
        job.result()
    return n


def hour_key(hour: int) -> str:
    """A generated hourly log's name: what the sha256 of its content is for a real one."""
    return hashlib.sha256(f"{VERSION}:{VENUE}:{hour}".encode()).hexdigest()


def _write_hour(lake: Path, symbol: str, hour: int, table: Any) -> None:
    from alphapulse_cli.compact.lake import date_text, open_writer, partition_dir

    day = hour * HOUR_NS // DAY_NS
    d = partition_dir(lake, "trades", VENUE, symbol, date_text(day))
    d.mkdir(parents=True, exist_ok=True)
    final = d / f"{hour_key(hour)}.parquet"
    tmp = final.with_name(f"{TMP_PREFIX}{final.name}")
    writer = open_writer(tmp, "trades")
    try:
        writer.write_table(table, row_group_size=ROW_GROUP)
    finally:
        writer.close()
    os.replace(tmp, final)


def describe(g: GeneratedLake) -> str:
    m = g.meta
    s = m["spec"]
    start = _dt.datetime.fromtimestamp(m["capture_start"] / 1e9, _dt.timezone.utc)
    return (
        f"{s['days']} days x {len(SYMBOLS)} symbols x {s['trades_per_day']:,} trades/day; "
        f"{start:%Y-%m-%d %H:00} captured ({s['levels']} levels/side, {s['rate']:g} events/s)"
    )
