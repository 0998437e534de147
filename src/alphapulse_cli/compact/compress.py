"""One log to `.wslog.zst`, atomically and verified.

The order is what makes a kill harmless at any instant: compress into a temporary name in
the same directory, fsync it, rename it into place, fsync the directory, then decompress
what is on disk and compare it with the bytes we read (the sha256 of those bytes goes to
the index for later checks). Deleting the original is the caller's job, after the index
entry is durable (run.py).

The output is one standard zstd frame with the content size and a content checksum, so
`zstd -d` restores it byte for byte and detects damage on its own.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse_cli.compact.scan import atomic_file
from alphapulse_cli.errors import BadLogError, VerifyError
from alphapulse_cli.wslog.reader import complete_length, describe_cut

CHUNK = 1 << 22
# Up to this size a log is compressed in one call (see _write); the output buffer this
# needs is only touched as far as the compressed size.
ONESHOT_MAX = 1 << 30
DEFAULT_LEVEL = 3


@dataclass
class Compressed:
    path: Path
    raw_bytes: int  # bytes compressed: the file, or its complete records if it was cut off
    file_bytes: int
    compressed_bytes: int
    records: int
    sha256: str
    cut: dict[str, Any] | None


def compressor(level: int, threads: int) -> Any:
    import zstandard

    return zstandard.ZstdCompressor(
        level=level, write_checksum=True, write_content_size=True, threads=threads
    )


def compress_fd(
    fd: int,
    name: str,
    dest: Path,
    *,
    level: int = DEFAULT_LEVEL,
    threads: int = 0,
    verify: bool = True,
) -> Compressed:
    """Compress the log open on `fd` (named `name` in messages) to `dest`, then (unless the
    bench asks otherwise) verify it."""
    size = os.fstat(fd).st_size
    if size:
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mm:
            complete, records = complete_length(mm, name)
            cut = None
            if complete < size:
                missing, exact = describe_cut(mm, complete, name)
                cut = {
                    "offset": complete,
                    "missing": missing,
                    "exact": exact,
                    "dropped": size - complete,
                }
            digest = _write(mm, complete, dest, level, threads)
            if verify:
                _compare_zst(dest, mm, complete)
    else:
        complete, records, cut = 0, 0, None
        digest = _write(b"", 0, dest, level, threads)
        if verify:
            _compare_zst(dest, b"", 0)
    compressed = dest.stat().st_size
    return Compressed(dest, complete, size, compressed, records, digest, cut)


def content_sha256(fd: int, name: str) -> str:
    """The sha256 compress_fd reports for the log open on `fd`: of its complete records."""
    size = os.fstat(fd).st_size
    h = hashlib.sha256()
    if size:
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mm:
            complete, _ = complete_length(mm, name)
            view = memoryview(mm)[:complete]
            try:
                h.update(view)
            finally:
                view.release()
    return h.hexdigest()


def _write(data: Any, length: int, dest: Path, level: int, threads: int) -> str:
    cctx = compressor(level, threads)
    with atomic_file(dest) as out:
        if length <= ONESHOT_MAX:
            # One call over the whole (mapped) input: libzstd sees all of it at once, which
            # gives a better ratio than streaming the same bytes (about 0.4% on our logs,
            # enough to fall below the `zstd` tool's), and the output is written at once.
            view = memoryview(data)[:length]
            try:
                digest = _sha256(view, length, parallel=threads > 0)
                out.write(cctx.compress(view))
                hexdigest = digest()
            finally:
                view.release()
        else:
            h = hashlib.sha256()
            with cctx.stream_writer(out, size=length, closefd=False) as w:
                for off in range(0, length, CHUNK):
                    chunk = data[off : min(off + CHUNK, length)]
                    h.update(chunk)
                    w.write(chunk)
            hexdigest = h.hexdigest()
    return hexdigest


def _sha256(view: memoryview, length: int, parallel: bool) -> Callable[[], str]:
    """The sha256 of `view`; with `parallel`, computed on a thread while the caller
    compresses (hashlib and libzstd both release the GIL), since threads were asked for."""
    h = hashlib.sha256()

    def run() -> None:
        for off in range(0, length, CHUNK):
            h.update(view[off : off + CHUNK])

    if not parallel:
        run()
        return h.hexdigest
    t = threading.Thread(target=run, name="compact-sha256")
    t.start()

    def result() -> str:
        t.join()
        return h.hexdigest()

    return result


def _zst_chunks(path: Path) -> Iterator[bytes]:
    """What a .zst file decompresses to, CHUNK bytes at a time, across all its frames
    (zstandard.ZstdError when the data is damaged)."""
    import zstandard

    with open(path, "rb") as f:
        reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
        while chunk := reader.read(CHUNK):
            yield chunk


def _compare_zst(path: Path, data: Any, length: int) -> None:
    """Decompress what is on disk and compare it with the original, byte for byte (a
    stronger check than comparing hashes, and cheaper than hashing again)."""
    import zstandard

    off = 0
    try:
        for chunk in _zst_chunks(path):
            end = off + len(chunk)
            if end > length or chunk != data[off:end]:
                raise VerifyError(
                    f"{path}: decompressed bytes differ from the original at or after "
                    f"offset {off}; the original is kept"
                )
            off = end
    except zstandard.ZstdError as exc:
        raise VerifyError(f"{path}: cannot decompress what was written ({exc})") from None
    if off != length:
        raise VerifyError(
            f"{path}: decompresses to {off} bytes, the original has {length}; it is kept"
        )


def hash_zst(path: Path) -> tuple[int, str]:
    """(decompressed bytes, sha256 of them); BadLogError if the data is damaged."""
    import zstandard

    h = hashlib.sha256()
    n = 0
    try:
        for chunk in _zst_chunks(path):
            h.update(chunk)
            n += len(chunk)
    except zstandard.ZstdError as exc:
        raise BadLogError(
            str(path), 0, f"corrupt zstd data ({exc})", "restore it from a backup"
        ) from None
    except FileNotFoundError:
        raise BadLogError(str(path), 0, "missing", "it is listed in the index") from None
    return n, h.hexdigest()


def check_zst(path: Path, raw_bytes: int, sha256: str) -> None:
    """Decompress `path` and compare with what it should hold; VerifyError if not."""
    try:
        n, digest = hash_zst(path)
    except BadLogError as exc:
        raise VerifyError(f"{path}: {exc.problem}; the compressed file is damaged") from None
    if n != raw_bytes or digest != sha256:
        raise VerifyError(
            f"{path}: decompresses to {n} bytes with sha256 {digest[:16]}..., expected "
            f"{raw_bytes} bytes with sha256 {sha256[:16]}...; the file was changed or damaged"
        )
