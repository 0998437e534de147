"""Mutations of real frames for property tests: flipped, cut, inserted, duplicated and
deleted bytes, drawn by hypothesis."""

from __future__ import annotations

from hypothesis import strategies as st


def mutate(frame: bytes, data: st.DataObject) -> bytes:
    buf = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup", "delete"]))
        i = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[i] = data.draw(st.sampled_from(list(b'"{}[],:.-0123456789eE \\x\xff\x00')))
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = data.draw(
                st.sampled_from([b'"', b",", b"]", b"{", b"null", b"-", b"1e999", b"\xc3"])
            )
        elif op == "dup":
            j = data.draw(st.integers(i, len(buf)))
            buf[i:i] = buf[i:j]
        elif op == "delete" and buf:
            j = data.draw(st.integers(i, min(len(buf), i + 8)))
            del buf[i:j]
    return bytes(buf)
