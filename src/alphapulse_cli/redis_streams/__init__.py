"""Redis Streams: publishing normalized market data, and following streams, over a small RESP
client of our own.

Named ``redis_streams`` so that it can never shadow the ``redis`` package (redis-py). The
package's import is empty, so a command pays only for the modules it uses:

    url         Redis URLs: the default chain, parsing, passwords masked in every message
    resp        RESP2 without I/O: command encoding, reply parsing (and a fast stream reader)
    conn        connections over TCP, TLS or a Unix socket, blocking and asyncio
    entries     stream keys, entry fields, XADD commands as RESP bytes
    publisher   RedisPublisher (asyncio): a bounded queue in front of one pipelined connection
    sync        SyncRedisPublisher: that publisher on its own loop in thread
                ``redis-publisher``, which both ``collect`` and ``replay`` use
    sink        the EventSinks: ``replay_sink`` (waits for room), ``live_sink`` (drops oldest)
    tail        Tailer: discovery by pattern, plain reads or consumer groups, acks
    cluster     Redis Cluster: hash slots, the slot map, a blocking client routing by key
    cluster_publisher   the publisher over a cluster: one pipeline per master
    cluster_tail        the Tailer over a cluster: every master scanned, streams read one by one
"""
