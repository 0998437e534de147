"""`compact --archive s3://BUCKET/PREFIX`: move old compressed logs and the index to S3.

For each indexed X.wslog.zst whose last record is older than `--archive-after`, in this
order: check its size against its index entry; upload it to
PREFIX/<its path relative to DATA_DIR>; read the object back and compare its size and
sha256 with the bytes sent; record the object in its index entry (`archive`), durably;
only then unlink the local file. Last, index.json itself goes to PREFIX/index.json, so the
bucket describes itself.

A kill at any instant leaves each log whole in at least one place: before the index
records the object, the local file is untouched (an upload in flight never becomes a
visible object); after, the next run finds the local file still there, uploads and
verifies it again, and deletes it. An object that does not read back as sent keeps its
local file and fails the run with exit 3.

Uploads run on a few threads (pyarrow releases the GIL), like `pyarrow.fs.copy_files`;
index writes and deletions stay on the calling thread, in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse_cli.errors import VerifyError
from alphapulse_cli.storage.s3 import S3Url, Store, Uploaded

WORKERS = 4
INDEX_NAME = "index.json"


@dataclass
class ArchiveJob:
    root: Path
    entries: dict[str, dict[str, Any]]
    dest: S3Url
    older_than_ns: int
    save: Callable[[], None]  # makes the entries durable (index.json, atomically)
    note: Callable[[str], None]
    problem: Callable[[str], None]
    dry_run: bool = False
    # Runs between an upload and its read-back (tests use it to change the object).
    after_put: Callable[[Uploaded], None] | None = None


@dataclass
class ArchiveCounts:
    archived: int = 0
    archived_bytes: int = 0
    planned: list[str] | None = None


def due(job: ArchiveJob) -> list[str]:
    """Index keys of local compressed logs whose last record is older than the cutoff."""
    cutoff = time.time_ns() - job.older_than_ns
    out = []
    for rel, entry in sorted(job.entries.items()):
        last = entry.get("last_ts")
        old = entry.get("records") == 0 if last is None else last < cutoff
        if old and (job.root / rel).is_file():
            out.append(rel)
    return out


def run_archive(store: Store, job: ArchiveJob) -> ArchiveCounts:
    counts = ArchiveCounts()
    store.check_bucket(job.dest)
    todo = due(job)
    if job.dry_run:
        counts.planned = [f"archive {job.root / rel} -> {job.dest.child(rel)}" for rel in todo]
        return counts
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="archive") as pool:
        futures = [(rel, pool.submit(_upload, store, job, rel)) for rel in todo]
        try:
            for rel, sent in _in_order(futures, job.problem):
                local = job.root / rel
                job.entries[rel]["archive"] = {
                    "url": str(sent.url),
                    "bytes": sent.size,
                    "sha256": sent.sha256,
                    "archived_at": _now_text(),
                }
                job.save()
                local.unlink(missing_ok=True)
                counts.archived += 1
                counts.archived_bytes += sent.size
                job.note(f"{local}: archived to {sent.url} ({sent.size} bytes, verified)")
        except BaseException:
            for _rel, fut in futures:
                fut.cancel()
            raise
    index = job.root / INDEX_NAME
    if index.is_file():
        sent = store.put_verified(index, job.dest.child(INDEX_NAME))
        job.note(f"{index}: copied to {sent.url}")
    return counts


def _upload(store: Store, job: ArchiveJob, rel: str) -> Uploaded:
    local = job.root / rel
    entry = job.entries[rel]
    # compact verified the file by decompressing it when it wrote it; here it must still
    # have the size the index recorded. Decompressing again would cost more CPU than the
    # upload (`compact --verify` rechecks contents; the zstd frame's checksum travels along).
    size = local.stat().st_size
    if size != entry.get("compressed_bytes"):
        raise VerifyError(
            f"{local}: {size} bytes on disk, the index says {entry.get('compressed_bytes')}; "
            "not archived (run `compact --verify`)"
        )
    return store.put_verified(local, job.dest.child(rel), job.after_put)


def _in_order(
    futures: list[tuple[str, Future[Uploaded]]], problem: Callable[[str], None]
) -> Iterator[tuple[str, Uploaded]]:
    """Each finished upload in submission order; a verification failure is reported and
    its file kept, the others go on."""
    for rel, fut in futures:
        try:
            yield rel, fut.result()
        except VerifyError as exc:
            problem(str(exc))


def _now_text() -> str:
    from alphapulse_cli.core.times import ns_to_rfc3339

    return ns_to_rfc3339(time.time_ns())
