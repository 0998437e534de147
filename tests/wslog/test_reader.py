"""The reader against logs written from the spec by an independent encoder."""

from __future__ import annotations

import io
import os
import random

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from alphapulse_cli import speedups
from alphapulse_cli.errors import BadLogError, TruncatedLogError
from alphapulse_cli.wslog.reader import ReadStats, complete_length, expand_inputs, iter_records
from tests.helpers.wslog_spec import spec_log, spec_preamble, spec_record


def as_tuples(records):
    return [(ts, venue | (kind << 12), payload) for ts, venue, kind, payload in records]


def test_reads_spec_log_exactly(sample_log, sample_records):
    assert list(iter_records(sample_log)) == as_tuples(sample_records)


def test_concatenated_files_are_one_stream(tmp_path, sample_records):
    p = tmp_path / "cat.wslog"
    p.write_bytes(spec_log(sample_records[:2]) + spec_log(sample_records[2:]))
    assert list(iter_records(p)) == as_tuples(sample_records)


def test_zstd_file_and_concatenated_frames(tmp_path, sample_records):
    raw = spec_log(sample_records)
    c = zstandard.ZstdCompressor(write_checksum=True)
    p = tmp_path / "a.wslog.zst"
    p.write_bytes(c.compress(raw[:40]) + c.compress(raw[40:]))
    assert list(iter_records(p)) == as_tuples(sample_records)


def test_every_cut_position_raises_or_keeps_complete_records(tmp_path, sample_records):
    raw = spec_log(sample_records)
    boundaries = {16}
    pos = 16
    for r in sample_records:
        pos += 14 + len(r[3])
        boundaries.add(pos)
    p = tmp_path / "cut.wslog"
    for cut in range(1, len(raw)):
        p.write_bytes(raw[:cut])
        complete = sum(1 for b in boundaries if b <= cut) - 1
        if cut in boundaries:
            assert len(list(iter_records(p))) == complete
            continue
        with pytest.raises(TruncatedLogError) as exc:
            list(iter_records(p))
        last_boundary = max(b for b in boundaries if b <= cut) if cut >= 16 else 0
        assert exc.value.offset == last_boundary
        assert str(p) in str(exc.value) and "--tail stop" in str(exc.value)
        stats = ReadStats()
        kept = list(iter_records(p, tail="stop", stats=stats))
        assert kept == as_tuples(sample_records)[: max(complete, 0)]
        assert stats.truncated[0]["offset"] == last_boundary
        # The bulk walker agrees on where the complete records end.
        good, _n = complete_length(raw[:cut])
        assert good == max(last_boundary, 16 if cut >= 16 else 0) or cut < 16


def test_missing_bytes_are_exact_once_the_header_is_complete(tmp_path, sample_records):
    raw = spec_log(sample_records[:1])
    p = tmp_path / "c.wslog"
    p.write_bytes(raw[:-5])
    with pytest.raises(TruncatedLogError) as exc:
        list(iter_records(p))
    assert exc.value.missing == 5 and exc.value.offset == 16


@pytest.mark.parametrize(
    "content, words",
    [
        (b'{"type":"match"}\n', "JSON"),
        (b"[1,2,3]", "JSON"),
        (b"PK\x03\x04 zip file", "not a .wslog"),
        (b"\x93WSLOX\r\n" + bytes(8), "not a .wslog"),
    ],
)
def test_garbage_is_a_one_line_data_error(tmp_path, content, words):
    p = tmp_path / "g.bin"
    p.write_bytes(content)
    with pytest.raises(BadLogError) as exc:
        list(iter_records(p))
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert exc.value.exit_code == 3


def test_random_bytes_never_escape_as_other_exceptions(tmp_path):
    rnd = random.Random(1)
    p = tmp_path / "r.bin"
    for i in range(200):
        blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        if i % 3 == 0:
            blob = spec_preamble() + blob
        p.write_bytes(blob)
        try:
            list(iter_records(p))
        except (BadLogError, TruncatedLogError):
            pass


def test_wrong_version_is_named(tmp_path):
    p = tmp_path / "v.wslog"
    p.write_bytes(b"\x93WSLOG\r\n" + bytes([2, 0, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(BadLogError, match="version 2"):
        list(iter_records(p))


def test_follow_reads_a_growing_file_until_end_event(tmp_path, sample_records):
    import threading
    import time

    p = tmp_path / "live.wslog"
    p.write_bytes(spec_preamble())
    got = []

    def reader():
        got.extend(iter_records(p, follow=True))

    t = threading.Thread(target=reader)
    t.start()
    with open(p, "ab") as f:
        for r in sample_records:
            time.sleep(0.02)  # the file grows while the reader follows it: that is the test
            f.write(spec_record(*r))
            f.flush()
    t.join(timeout=5)
    assert not t.is_alive()
    assert got == as_tuples(sample_records)


def test_stdin_zstd(monkeypatch, sample_records):
    raw = spec_log(sample_records)
    comp = zstandard.ZstdCompressor().compress(raw)

    class FakeStdin:
        buffer = io.BytesIO(comp)

    monkeypatch.setattr("sys.stdin", FakeStdin)
    assert list(iter_records("-")) == as_tuples(sample_records)


def test_expand_inputs_walks_dirs_and_prefers_raw_over_copy(tmp_path, sample_records):
    (tmp_path / "coinbase").mkdir()
    a = tmp_path / "coinbase" / "20260101_00.wslog"
    a.write_bytes(spec_log(sample_records))
    (tmp_path / "coinbase" / "20260101_00.wslog.zst").write_bytes(b"x")
    b = tmp_path / "coinbase" / "20251231_23.wslog.zst"
    b.write_bytes(zstandard.ZstdCompressor().compress(spec_log(sample_records)))
    (tmp_path / "notes.txt").write_text("x")
    assert expand_inputs([str(tmp_path)]) == [str(b), str(a)]
    with pytest.raises(BadLogError):
        expand_inputs([os.path.join(tmp_path, "missing")])


def _walk_reference(data: bytes) -> tuple[int, int]:
    """The plainest possible walk, one header at a time, preambles by their full magic."""
    pos = count = 0
    while True:
        if data[pos : pos + 8] == spec_preamble()[:8]:
            if pos + 16 > len(data):
                return pos, count
            pos += 16
            continue
        if pos + 14 > len(data):
            return pos, count
        end = pos + 14 + int.from_bytes(data[pos + 10 : pos + 14], "little")
        if end > len(data):
            return pos, count
        pos, count = end, count + 1


@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 2**64 - 1),
                st.sampled_from([b"", b"x", spec_preamble(), b"\x93" * 9, b"{}" * 40_000]),
            ),
            max_size=6,
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 2**31),
)
@settings(max_examples=150, deadline=None)
def test_header_walk_matches_a_plain_walk(files, cut_seed):
    """Concatenated logs, magic bytes inside payloads, records longer than a walk window,
    and every kind of cut: the fast walk agrees with the plain one."""
    data = b"".join(spec_log([(ts, 1, 0, p) for ts, p in recs]) for recs in files)
    cut = random.Random(cut_seed).randrange(len(data) + 1)
    for view in (data, data[:cut]):
        assert complete_length(view) == _walk_reference(view)


@pytest.fixture(autouse=True, params=["compiled", "python"])
def record_splitter(request, monkeypatch):
    """Every reader test runs twice: with the compiled record splitter and with the
    pure-Python loop (which also handles whatever the splitter stops at)."""
    if request.param == "python":
        monkeypatch.setenv(speedups.ENV, "1")
    else:
        monkeypatch.delenv(speedups.ENV, raising=False)
        if not speedups.enabled():
            pytest.skip("the compiled splitter is not built")
    return request.param


def test_the_compiled_splitter_takes_the_ordinary_records_and_declines_preambles(
    tmp_path, record_splitter
):
    recs = [(1000 + i, 1, 0, b"y" * (i % 5 + 1)) for i in range(40)]
    path = tmp_path / "two.wslog"
    path.write_bytes(spec_log(recs[:25]) + spec_log(recs[25:]))
    before = speedups.counters().get("split_records", {"handled": 0, "declined": 0})
    assert len(list(iter_records(path))) == 40
    after = speedups.counters().get("split_records", {"handled": 0, "declined": 0})
    if record_splitter == "python":
        assert after == before
    else:  # the preambles are the Python loop's to read
        assert after["handled"] - before["handled"] == 40
        assert 1 <= after["declined"] - before["declined"] <= 2


def test_preambles_cut_tails_and_bad_headers_inside_a_chunk(tmp_path):
    """What the compiled splitter stops at (a preamble between records, a corrupt header,
    a cut last record) is read exactly as the pure-Python loop reads it."""
    recs = [(1000 + i, 1, 0, b"x" * (i % 7 + 3)) for i in range(50)]
    data = spec_log(recs[:20]) + spec_log(recs[20:])
    want = [(ts, v | (k << 12), p) for ts, v, k, p in recs]
    path = tmp_path / "mixed.wslog"
    path.write_bytes(data)
    assert list(iter_records(path)) == want
    cut = tmp_path / "cut.wslog"
    cut.write_bytes(data[:-2])
    stats = ReadStats()
    assert list(iter_records(cut, tail="stop", stats=stats)) == want[:-1]
    last = len(data) - 14 - len(recs[-1][3])
    assert stats.truncated == [{"file": str(cut), "offset": last, "missing": 2, "exact": True}]
    bad = tmp_path / "bad.wslog"
    at = last - 14 - len(recs[-2][3])  # the header of the second-to-last record
    bad.write_bytes(data[: at + 8] + b"\xff\xff" + data[at + 10 :])
    with pytest.raises(BadLogError) as exc:
        list(iter_records(bad))
    assert exc.value.offset == at
