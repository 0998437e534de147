"""The RESP codec: the fast stream-reply parser must agree with the plain recursive one on
any reply shape (values holding CRLF, non-ASCII, long values, deleted entries, errors)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alphapulse_cli.errors import Incomplete, RespError
from alphapulse_cli.redis_streams.resp import ReplyReader, StreamReplyParser, encode, parse_reply


def bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def entry_bytes(eid: bytes, vals: list[bytes] | None) -> bytes:
    if vals is None:
        return b"*2\r\n" + bulk(eid) + b"*-1\r\n"
    return b"*2\r\n" + bulk(eid) + b"*%d\r\n" % len(vals) + b"".join(map(bulk, vals))


values = st.one_of(
    st.sampled_from([b"price", b"67000.12", b"", b"buy", b"0.00000001"]),
    st.binary(max_size=12),
    st.text(max_size=8).map(str.encode),
    st.just(b"a\r\nb"),
    st.just(b"x" * 1500),
)
entry = st.tuples(
    st.integers(0, 10**13).map(lambda ms: b"%d-0" % ms),
    st.one_of(st.none(), st.lists(values, min_size=1, max_size=6).map(lambda v: v + v[:0])),
)
COMMON = [b"ts", b"1767225600000000", b"67000.5", "é".encode()]
uniform = st.integers(1, 4).flatmap(
    lambda k: st.lists(
        st.tuples(
            st.integers(0, 10**13).map(lambda ms: b"%d-1" % ms),
            st.lists(
                st.sampled_from([b"ts", b"1767225600000000", b"67000.5"]),
                min_size=2 * k,
                max_size=2 * k,
            ),
        ),
        min_size=2,
        max_size=30,
    )
)


def text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def expected(entries):
    return [(text(e), None if v is None else [text(x) for x in v]) for e, v in entries]


@settings(max_examples=300, deadline=None)
@given(st.lists(entry, max_size=8), st.lists(entry, max_size=5))
def test_xread_reply_parses_like_the_plain_parser(a, b):
    reply = b"*2\r\n" + b"".join(
        b"*2\r\n" + bulk(name) + b"*%d\r\n" % len(es) + b"".join(entry_bytes(*e) for e in es)
        for name, es in ((b"s:1", a), (b"s:\xc3\xa9", b))
    )
    p = StreamReplyParser(reply)
    got = p.streams()
    assert p.consumed_all
    assert got == [("s:1", expected(a)), ("s:é", expected(b))]
    assert parse_reply(reply)[1] == len(reply)
    # Every cut-off prefix is incomplete, never a wrong answer.
    for cut in {len(reply) // 3, len(reply) - 1}:
        try:
            StreamReplyParser(reply[:cut]).streams()
        except Incomplete:
            pass
        else:
            raise AssertionError(f"a reply cut at {cut} parsed")


@settings(max_examples=200, deadline=None)
@given(uniform)
def test_uniform_replies_take_the_column_path_and_agree(entries):
    reply = b"*%d\r\n" % len(entries) + b"".join(entry_bytes(*e) for e in entries)
    p = StreamReplyParser(reply)
    assert p.entries() == expected(entries)
    assert p.consumed_all


def test_a_crlf_value_in_a_uniform_reply_falls_back_exactly():
    es = [(b"1-0", [b"f", b"v"]), (b"2-0", [b"f", b"a\r\nb"]), (b"3-0", [b"f", b"w"])]
    reply = b"*3\r\n" + b"".join(entry_bytes(*e) for e in es)
    assert StreamReplyParser(reply).entries() == expected(es)


def test_autoclaim_reply_and_errors():
    reply = (
        b"*3\r\n" + bulk(b"5-0") + b"*1\r\n" + entry_bytes(b"4-0", [b"f", b"v"]) + b"*1\r\n"
    ) + bulk(b"3-0")
    assert StreamReplyParser(reply).autoclaim() == ("5-0", [("4-0", ["f", "v"])], ["3-0"])
    try:
        StreamReplyParser(b"-NOGROUP no such group\r\n").streams()
    except RespError as exc:
        assert exc.code == "NOGROUP"
    else:
        raise AssertionError("an error reply must raise RespError")


def test_encode_and_reply_reader_round_trip():
    cmd = encode("XACK", "k", "g", *[f"{i}-0" for i in range(3)], b"\xff", 7, "é")
    value, end = parse_reply(cmd)
    assert end == len(cmd)
    assert value == [b"XACK", b"k", b"g", b"0-0", b"1-0", b"2-0", b"\xff", b"7", "é".encode()]
    r = ReplyReader()
    for byte in b"+OK\r\n:12\r\n$-1\r\n-ERR x\r\n":
        r.feed(bytes([byte]))
    got = []
    while True:
        ok, v = r.get()
        if not ok:
            break
        got.append(v)
    assert got[:3] == [b"OK", 12, None] and str(got[3]) == "ERR x"
