"""A ring writer run as a separate process by the tests.

    python ring_proc.py NAME CAPACITY COUNT MODE

Entry k (0-based) has ts k and levels that are all a function of k (see `levels`), so a
reader can tell a torn copy from a whole one. MODE:
    close     write COUNT entries, close cleanly, exit
    hold      write COUNT entries, print "ready", wait for a line on stdin, close, exit
    die       write COUNT entries, print "ready", then wait to be killed
    midwrite  write COUNT entries, then start entry COUNT (slot lock odd, half the levels
              scribbled) and die without finishing it
"""

from __future__ import annotations

import os
import signal
import sys

from alphapulse_cli.shm.layout import ENTRY_OFFSET
from alphapulse_cli.shm.writer import ShmBookWriter


def levels(k: int) -> tuple[list[float], list[float]]:
    base = float(k % 100_000)
    bids: list[float] = []
    asks: list[float] = []
    for i in range(50):
        bids += [base + 200_000 - i, float(i + 1)]
        asks += [base + 300_000 + i, float(i + 2)]
    return bids, asks


def main() -> None:
    name, capacity, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    w = ShmBookWriter.open(name, capacity=capacity)
    eid, sid = w.ids("coinbase", "BTC-USD")
    start = w.write_seq
    for k in range(start, start + count):
        b, a = levels(k)
        w.write_levels(k, eid, sid, b, a)
    if mode == "close":
        w.close()
        return
    if mode == "midwrite":
        n = w.write_seq
        g = w.geometry
        slot = g.header_size + (n % g.capacity) * g.slot_stride
        mm = w._mm
        mm[slot : slot + 8] = (2 * n + 1).to_bytes(8, "little")
        mm[slot + ENTRY_OFFSET : slot + ENTRY_OFFSET + 400] = b"\xab" * 400
        os._exit(0)
    print("ready", flush=True)
    if mode == "hold":
        sys.stdin.readline()
        w.close()
        return
    while True:  # die: wait for SIGKILL
        signal.pause()


if __name__ == "__main__":
    main()
