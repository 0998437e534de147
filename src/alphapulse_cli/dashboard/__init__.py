"""`alphapulse dashboard`: one page on localhost, live from the toolbox's own outputs.

Sources (each polled on its own thread, each publishing an immutable view the server
reads without a lock): `firehose.py` follows the newest .wslog per venue under --data;
`depth.py` keeps the newest book per symbol from the shm ring (Redis `book:*` streams when
there is no ring); `tape.py` reads `trades:*` streams; `health.py` scrapes each collector's
--metrics-port; `system.py` asks psutil. `state.py` runs them and builds the snapshot that
`server.py` pushes over one WebSocket (coalesced, 10 Hz) and answers at GET /api/state.
"""
