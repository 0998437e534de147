"""The shared-memory order-book ring: one writer, any number of readers (see shm-dump(1))."""

from alphapulse_cli.shm.reader import BookEntry, ShmBookReader
from alphapulse_cli.shm.writer import ShmBookWriter, remove_ring

__all__ = ["BookEntry", "ShmBookReader", "ShmBookWriter", "remove_ring"]
