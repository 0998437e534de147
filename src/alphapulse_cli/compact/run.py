"""`compact` as a library call: the order of the steps, which is what makes it safe.

For each closed log X.wslog:  compress to a temporary name, fsync, rename to X.wslog.zst,
fsync the directory, decompress and compare with the original (compress.py); export its
events to the lake (renamed into place, after that check; with a lake the compression runs
on a thread while the events are parsed); write its entry to index.json (atomically); only
then unlink X.wslog. A kill at any instant leaves either the original (with perhaps a .zst or lake
files that the rerun rewrites under the same names) or the indexed .zst; temporary files
carry TMP_PREFIX and the next run, holding the directory lock, deletes them.

Index writes are batched (at most one per FLUSH_S), and originals wait for the write
that records them, so many small logs do not cost an index rewrite each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse_cli.compact import index as idx
from alphapulse_cli.compact import lake as lk
from alphapulse_cli.compact.compress import (
    DEFAULT_LEVEL,
    Compressed,
    check_zst,
    compress_fd,
    content_sha256,
    hash_zst,
)
from alphapulse_cli.compact.lock import DirLock
from alphapulse_cli.compact.scan import ClosedLog, remove_debris, scan
from alphapulse_cli.errors import AlphapulseError, DataError, UsageError, VerifyError

if TYPE_CHECKING:
    from alphapulse_cli.core.derive import Normalizer

FLUSH_S = 1.0
ZST = ".zst"


@dataclass
class CompactRequest:
    data_dir: Path
    level: int = DEFAULT_LEVEL
    threads: int = 0
    dry_run: bool = False
    wait: bool = True
    lake: Path | None = None
    verify: bool = False
    recheck: bool = False
    keep_raw_ns: int | None = None
    checkpoint_every_ns: int = lk.DEFAULT_CHECKPOINT_EVERY_NS
    lake_url: str | None = None  # s3://BUCKET/PREFIX: `lake` becomes its staging copy
    archive: str | None = None  # s3://BUCKET/PREFIX
    archive_after_ns: int = 7 * 86_400_000_000_000
    # Between an archive upload and its read-back (tests change the object there).
    archive_after_put: Callable[[Any], None] | None = None


@dataclass
class Reporter:
    """Where the run talks: `note` (progress talk, silenced by --quiet), `warn` (something is
    wrong: always shown), `progress(done_bytes, total_bytes)`."""

    note: Callable[[str], None] = lambda msg: None
    warn: Callable[[str], None] = lambda msg: None
    progress: Callable[[int, int], None] = lambda done, total: None


@dataclass
class Summary:
    compressed: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0
    indexed: int = 0
    exported: int = 0
    trades: int = 0
    book_rows: int = 0
    deleted: int = 0
    archived: int = 0
    archived_bytes: int = 0
    verified: int = 0
    skipped_live: list[str] = field(default_factory=list)
    cuts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    debris: int = 0
    planned: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["ratio"] = (
            round(self.raw_bytes / self.compressed_bytes, 3) if self.compressed_bytes else None
        )
        return out


class _Run:
    def __init__(self, req: CompactRequest, rep: Reporter) -> None:
        self.req = req
        self.rep = rep
        self.root = req.data_dir
        self.lake = req.lake
        self.sum = Summary()
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self.pending: list[Path] = []  # originals to unlink once the index records them
        self.last_save = time.monotonic()

    # ---- index ------------------------------------------------------------------------
    def save(self, force: bool = False) -> None:
        if not (self.dirty or self.pending):
            return
        if not force and time.monotonic() - self.last_save < FLUSH_S:
            return
        idx.save(self.root, self.entries)
        self.dirty = False
        self.last_save = time.monotonic()
        dirs = set()
        for p in self.pending:
            p.unlink(missing_ok=True)
            dirs.add(p.parent)
        self.pending.clear()
        from alphapulse_cli.compact.scan import fsync_dir

        for d in dirs:
            fsync_dir(d)

    def rel(self, p: Path) -> str:
        return idx.entry_for(self.root, p)

    # ---- one log ----------------------------------------------------------------------
    def _export(self, key: str, source: Path) -> lk.LakeExport | None:
        if self.lake is None:
            return None
        return lk.LakeExport(self.lake, key, str(source), self.req.checkpoint_every_ns)

    def profile(self, path: Path, export: lk.LakeExport | None) -> dict[str, Any]:
        """The index entry's profile; with --recheck, the counters derived again are
        compared with the ones the log carries, and a difference is reported."""
        prof = idx.profile(*_profile_args(path, export), recheck=self.req.recheck)
        if self.req.recheck:
            written = idx.written_profile(path)
            if written is not None and (
                written["integrity"] != prof["integrity"] or written["symbols"] != prof["symbols"]
            ):
                self.rep.warn(
                    f"{path}: the counters collect wrote ({written['integrity']}) differ from "
                    f"the ones derived again ({prof['integrity']}); the index keeps the derived"
                )
        return prof

    def compress_one(self, log: ClosedLog) -> None:
        src = log.path
        dest = src.with_name(src.name + ZST)
        level, threads = self.req.level, self.req.threads
        export = None
        background = None
        if self.lake is None:
            try:
                c = compress_fd(log.fd, str(src), dest, level=level, threads=threads)
            except VerifyError:
                # Written and renamed, but it does not decompress to the original: remove it.
                if self.rel(dest) not in self.entries:
                    dest.unlink(missing_ok=True)
                raise
        else:
            # The export parses every frame, which takes far longer than compressing: the
            # compression runs on a thread meanwhile (libzstd and hashlib release the GIL).
            # Lake files are named by the content's sha256, so that is taken first.
            sha = content_sha256(log.fd, str(src))
            export = self._export(sha, src)
            background = _Background(
                lambda: compress_fd(log.fd, str(src), dest, level=level, threads=threads)
            )
        try:
            # The original is read, not the .zst: compress_fd shows (or is showing) they are
            # equal, and the index waits for it.
            prof = self.profile(src, export)
            if background is not None:
                c = background.result()
                if c.sha256 != sha:
                    raise VerifyError(f"{src}: changed while it was compacted; left as it is")
            if prof["records"] != c.records:
                raise DataError(
                    f"{src}: the record walk found {c.records} records, the reader "
                    f"{prof['records']}; the log is damaged inside, left as it is"
                )
            lake_info = export.commit() if export else None
        except BaseException:
            if background is not None:
                background.wait()  # nothing may still be writing dest when it is removed
            if export:
                export.discard()
            if self.rel(dest) not in self.entries:
                dest.unlink(missing_ok=True)
            raise
        entry = self._entry(prof, c.raw_bytes, c.compressed_bytes, c.sha256, lake_info)
        entry["cut"] = c.cut
        if c.cut is not None:
            self.sum.cuts.append({"file": str(src), **c.cut})
            self.rep.warn(
                f"{src}: last record cut off at offset {c.cut['offset']} "
                f"({c.cut['missing']}{'' if c.cut['exact'] else '+'} bytes missing, "
                f"{c.cut['dropped']} bytes dropped); compacted the complete records"
            )
        self.entries[self.rel(dest)] = entry
        self.dirty = True
        self.pending.append(src)
        s = self.sum
        s.compressed += 1
        s.raw_bytes += c.raw_bytes
        s.compressed_bytes += c.compressed_bytes
        self._count_lake(lake_info)
        self.rep.note(
            f"{src}: {c.raw_bytes} -> {c.compressed_bytes} bytes "
            f"({c.raw_bytes / max(c.compressed_bytes, 1):.2f}x), {c.records} records"
        )

    def _entry(
        self,
        prof: dict[str, Any],
        raw: int,
        compressed: int,
        sha: str,
        lake_info: dict[str, Any] | None,
    ) -> dict[str, Any]:
        from alphapulse_cli.core.times import ns_to_rfc3339

        entry = {
            **prof,
            "raw_bytes": raw,
            "compressed_bytes": compressed,
            "sha256": sha,
            "cut": None,
            "level": self.req.level,
            "compacted_at": ns_to_rfc3339(time.time_ns()),
        }
        if lake_info is not None:
            entry["lake"] = lake_info
        return entry

    def _count_lake(self, info: dict[str, Any] | None) -> None:
        if info is not None:
            self.sum.exported += 1
            self.sum.trades += info["rows"]["trades"]
            self.sum.book_rows += info["rows"]["book_updates"]

    def index_one(self, zst: Path) -> None:
        """A .wslog.zst with no entry (compressed by hand, or an index lost): index it."""
        raw, sha = hash_zst(zst)
        export = self._export(sha, zst)
        try:
            prof = self.profile(zst, export)
            lake_info = export.commit() if export else None
        except BaseException:
            if export:
                export.discard()
            raise
        entry = self._entry(prof, raw, zst.stat().st_size, sha, lake_info)
        entry["level"] = None
        self.entries[self.rel(zst)] = entry
        self.dirty = True
        self.sum.indexed += 1
        self._count_lake(lake_info)
        self.rep.note(f"{zst}: indexed ({prof['records']} records)")

    def export_one(self, zst: Path, entry: dict[str, Any]) -> None:
        assert self.lake is not None
        check_zst(zst, entry["raw_bytes"], entry["sha256"])
        export = lk.LakeExport(self.lake, entry["sha256"], str(zst), self.req.checkpoint_every_ns)
        try:
            idx.profile(zst, export.handle, export.normalizer())
            info = export.commit()
        except BaseException:
            export.discard()
            raise
        entry["lake"] = info
        self.dirty = True
        self._count_lake(info)
        self.rep.note(f"{zst}: exported {info['rows']['trades']} trades to {self.lake}")

    # ---- the whole directory ----------------------------------------------------------
    def run(self) -> Summary:
        found = scan(self.root, exclude=self.lake)
        self.entries = idx.load(self.root)
        raw_names = {str(p) for p in found.raw}
        sizes = {p: _size(p) for p in found.raw}
        total = sum(sizes.values())
        done = 0
        self.rep.progress(0, total)
        for p in found.raw:
            log = ClosedLog.probe(p)
            if log is None:
                self.sum.skipped_live.append(str(p))
                self.rep.note(f"{p}: a writer holds it; skipped")
            elif self.req.dry_run:
                log.close()
                self.sum.planned.append(f"compress {p}")
            else:
                try:
                    with log:
                        self.compress_one(log)
                except DataError as exc:
                    self.problem(str(exc))
                self.save()
            done += sizes[p]
            self.rep.progress(done, total)
        for z in found.compressed:
            rel = self.rel(z)
            if str(z)[: -len(ZST)] in raw_names or rel in self.entries:
                continue
            if self.req.dry_run:
                self.sum.planned.append(f"index {z}")
                continue
            try:
                self.index_one(z)
            except DataError as exc:
                self.problem(str(exc))
            self.save()
        if self.lake is not None:
            self.export_missing()
        if self.req.archive is not None:
            self.archive(self.req.archive)
        if self.req.keep_raw_ns is not None:
            self.retain(self.req.keep_raw_ns)
        if not self.req.dry_run:
            self.save(force=True)
        return self.sum

    def export_missing(self) -> None:
        assert self.lake is not None
        for rel, entry in sorted(self.entries.items()):
            if lk.present(self.lake, entry):
                continue
            z = self.root / rel
            if not z.is_file():
                continue
            if self.req.dry_run:
                self.sum.planned.append(f"export {z}")
                continue
            try:
                self.export_one(z, entry)
            except DataError as exc:
                self.problem(str(exc))
            self.save()

    def archive(self, url: str) -> None:
        from alphapulse_cli.storage.archive import ArchiveJob, run_archive
        from alphapulse_cli.storage.s3 import S3Url, store_for

        dest = S3Url.parse(url)
        job = ArchiveJob(
            root=self.root,
            entries=self.entries,
            dest=dest,
            older_than_ns=self.req.archive_after_ns,
            save=self._save_now,
            note=self.rep.note,
            problem=self.problem,
            dry_run=self.req.dry_run,
            after_put=self.req.archive_after_put,
        )
        if not self.req.dry_run:
            self.save(force=True)  # what this run compressed is indexed before it is archived
        counts = run_archive(store_for(url), job)
        self.sum.archived += counts.archived
        self.sum.archived_bytes += counts.archived_bytes
        self.sum.planned.extend(counts.planned or [])

    def _save_now(self) -> None:
        self.dirty = True
        self.save(force=True)

    def retain(self, keep_ns: int) -> None:
        """Delete compressed logs whose last record is older than `keep_ns`, once verified
        (and exported, with a lake). The entry goes first, so a kill leaves an unindexed
        .zst that the next run indexes again, never an entry without its file."""
        cutoff = time.time_ns() - keep_ns
        doomed = []
        for rel, entry in sorted(self.entries.items()):
            last = entry.get("last_ts")
            if last is None or last >= cutoff:
                continue
            z = self.root / rel
            if "archive" in entry and not z.is_file():
                continue
            if self.lake is not None and not lk.present(self.lake, entry):
                self.rep.note(f"{z}: kept: not in the lake yet")
                continue
            if self.req.dry_run:
                self.sum.planned.append(f"delete {z}")
                continue
            try:
                check_zst(z, entry["raw_bytes"], entry["sha256"])
            except VerifyError as exc:
                self.problem(f"{exc}; kept")
                continue
            doomed.append((rel, z))
        if not doomed:
            return
        for rel, _z in doomed:
            del self.entries[rel]
        self.dirty = True
        self.save(force=True)
        for _rel, z in doomed:
            z.unlink(missing_ok=True)
            self.sum.deleted += 1
            self.rep.note(f"{z}: deleted (older than --keep-raw)")

    def problem(self, msg: str) -> None:
        self.sum.problems.append(msg)
        self.rep.warn(msg)

    def verify(self) -> Summary:
        entries = idx.load(self.root)
        for rel, entry in sorted(entries.items()):
            z = self.root / rel
            try:
                size = z.stat().st_size
            except FileNotFoundError:
                if "archive" in entry:
                    self.rep.note(f"{z}: archived to {entry['archive']['url']}")
                    continue
                self.problem(f"{z}: listed in index.json but missing")
                continue
            if size != entry.get("compressed_bytes"):
                self.problem(
                    f"{z}: {size} bytes on disk, the index says {entry.get('compressed_bytes')}"
                )
                continue
            try:
                check_zst(z, entry["raw_bytes"], entry["sha256"])
            except VerifyError as exc:
                self.problem(str(exc))
                continue
            info = entry.get("lake")
            if isinstance(info, dict):
                lake = Path(str(info.get("dir")))
                gone = [f for f in info.get("files", []) if not (lake / f).is_file()]
                if gone:
                    self.problem(f"{z}: {len(gone)} of its lake files are missing, e.g. {gone[0]}")
                    continue
            self.sum.verified += 1
            self.rep.note(f"{z}: ok")
        found = scan(self.root, exclude=self.lake)
        for z in found.compressed:
            if self.rel(z) not in entries:
                self.rep.note(f"{z}: not in the index yet (the next compact indexes it)")
        return self.sum


class _Background:
    """One call on thread `compact-compress`; `result()` joins it and returns or raises what
    the call did."""

    def __init__(self, fn: Callable[[], Compressed]) -> None:
        self._out: Compressed | None = None
        self._err: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="compact-compress")
        self._thread.start()

    def _run(self, fn: Callable[[], Compressed]) -> None:
        try:
            self._out = fn()
        except BaseException as exc:
            self._err = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Compressed:
        self._thread.join()
        if self._err is not None:
            raise self._err
        assert self._out is not None
        return self._out


def _profile_args(
    source: Path, export: lk.LakeExport | None
) -> tuple[Path, idx.EventHook | None, Normalizer | None]:
    if export is None:
        return source, None, None
    return source, export.handle, export.normalizer()


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _s3_lake(req: CompactRequest) -> Callable[[Callable[[str], None]], int] | None:
    """For --parquet s3://...: check the bucket, point `req.lake` at the staging copy, and
    return what uploads it once the run has exported (storage/lake.py)."""
    if req.lake_url is None:
        return None
    from alphapulse_cli.storage.lake import push, staging_dir
    from alphapulse_cli.storage.s3 import S3Url, store_for

    url = S3Url.parse(req.lake_url)
    store = store_for(req.lake_url)
    store.check_bucket(url)
    staging = staging_dir(req.data_dir.resolve(), url)
    req.lake = staging
    return lambda note: push(store, staging, url, note)


def run_compact(req: CompactRequest, rep: Reporter | None = None) -> dict[str, Any]:
    """Run one compact over `req.data_dir`; the summary. DataError (exit 3) when a log could
    not be handled or --verify found a mismatch, after everything else was done."""
    rep = rep or Reporter()
    root = req.data_dir
    if not root.is_dir():
        # A missing input is bad data (exit 3) in every command, as in replay and query.
        problem = "not a directory" if root.exists() else "no such directory"
        raise DataError(f"{root}: {problem}; pass the data directory collect writes to")
    if not 1 <= req.level <= 22:
        raise UsageError(f"--level: {req.level} is not a zstd level from 1 to 22")
    if req.threads < 0:
        raise UsageError(f"--threads: {req.threads} is not 0 or more")
    if req.lake is not None:
        # The index records where the lake is; an absolute path stays right from any cwd.
        req.lake = req.lake.resolve()
        if req.lake == root.resolve():
            raise UsageError(
                "--parquet: the lake must be a directory of its own, not DATA_DIR "
                "(a subdirectory such as DATA_DIR/lake is fine)"
            )
    lake_push = _s3_lake(req)
    if req.archive is not None and not req.verify:
        # Credentials, endpoint and bucket are checked before any work, so a wrong one
        # fails at once (exit 2 or 4) instead of after compressing everything.
        from alphapulse_cli.storage.s3 import S3Url, store_for

        store_for(req.archive).check_bucket(S3Url.parse(req.archive))
    locks: list[DirLock] = []
    job = _Run(req, rep)
    try:
        if not req.dry_run:
            locks.append(DirLock(root).acquire(req.wait, rep.note))
            if req.lake is not None:
                try:
                    req.lake.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise AlphapulseError(
                        f"{req.lake}: cannot create the lake directory: {exc.strerror}"
                    ) from None
                lake_lock = DirLock(req.lake, "compact exporting here")
                locks.append(lake_lock.acquire(req.wait, rep.note))
            job.sum.debris = len(remove_debris(root))
            if req.lake is not None:
                job.sum.debris += len(remove_debris(req.lake))
            if job.sum.debris:
                rep.note(f"removed {job.sum.debris} temporary files left by an interrupted run")
        try:
            summary = job.verify() if req.verify else job.run()
            if lake_push is not None and not req.dry_run and not req.verify:
                lake_push(rep.note)
        except KeyboardInterrupt:
            if not req.dry_run and not req.verify:
                job.save(force=True)
            raise
    finally:
        for lock in reversed(locks):
            lock.release()
    if summary.problems:
        kind = VerifyError if req.verify else DataError
        n = len(summary.problems)
        what = "failed verification" if req.verify else "could not be compacted"
        raise kind(f"{root}: {n} file{'s' if n != 1 else ''} {what}; see the messages above")
    return summary.to_json()
