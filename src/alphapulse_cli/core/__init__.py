"""The event core, shared by every command: the exact L2 book (``book``), records to
normalized events and book views (``derive``), the sink interface that Redis and the shm ring
implement (``sinks``), and every time conversion (``times``)."""
