"""tail-stream's JSON lines, without a server: exact escaping of streams, ids and fields."""

from __future__ import annotations

import json


def test_json_lines_escape_what_needs_it():
    from alphapulse_cli.redis_streams.tail import JsonLines

    plain = [("1-0", ["price", "1.5", "side", "buy"]), ("2-0", ["price", "{x}", "side", "é"])]
    tricky = [("3-0", ["note", 'say "hi"\\n', "ctl", "a\nb\tc\x01"])]
    clash = [("4-0", ["id", "mine", "price", "2"])]
    jl = JsonLines()
    for stream, batch in (("s:{1}", plain), ("s", tricky), ('s"q', plain), ("s", clash)):
        got = [json.loads(x) for x in jl.lines(stream, batch).decode().splitlines()]
        want = [
            {"stream": stream, "id": e, **dict(zip(v[::2], v[1::2], strict=True))} for e, v in batch
        ]
        assert got == want
        assert [list(g) for g in got] == [list(w) for w in want]
