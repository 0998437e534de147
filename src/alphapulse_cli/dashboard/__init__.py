"""`alphapulse dashboard`: one page on localhost, live from the toolbox's own outputs.

Sources (each polled on its own thread, each publishing an immutable view the server
reads without a lock): `firehose.py` follows the newest .wslog per venue under --data;
`depth.py` keeps the newest book per symbol from the shm ring (Redis `book:*` streams when
there is no ring); `tape.py` reads `trades:*` streams; `health.py` scrapes each collector's
--metrics-port; `system.py` asks psutil. `state.py` runs them and builds the snapshot that
`server.py` pushes over one WebSocket (coalesced, at most every PUSH_S) and answers at
GET /api/state.
"""

# 14 Hz: the page keeps >= 10 updates a second with room for jitter. At 20 Hz the dashboard
# took 10.4 % of a core beside collect at 10k msg/s (`bench dashboard`), over its 10 % budget.
PUSH_S = 0.07
