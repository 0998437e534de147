"""Replaying logs: merge inputs by timestamp, filter and pace them (``merge``), run a request
against an output (``run``), or serve the recorded frames as the venue (``serve``,
``serve_feed``)."""
