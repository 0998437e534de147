"""CPU affinity and scheduling for the latency-critical processes (``alphapulse pin`` and
``--cpus``)."""
