"""The Parquet lake in S3: `compact --parquet s3://BUCKET/LAKE` and `Lake("s3://...")`.

compact exports to a staging copy of the lake under DATA_DIR (STAGING/<bucket>/<prefix>,
a dot-directory that scans skip), exactly as to a local lake, then pushes every file the
bucket lacks or holds at another size, each read back and compared by sha256. The staging
copy is what tells a rerun which logs are exported; a kill before the push leaves files
the next run pushes.

The research API reads through a local mirror of the bucket's lake
(`$ALPHAPULSE_LAKE_CACHE`, else `$XDG_CACHE_HOME/alphapulse/lake`, else
~/.cache/alphapulse/lake): objects are fetched when missing or changed in size, and files
the bucket no longer holds are removed, so DuckDB reads local Parquet footers and row
groups at disk speed after the first query.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from alphapulse_cli.storage.s3 import S3Url, Store, is_url, store_for

STAGING = ".alphapulse-lake"
_SKIP = (".alphapulse-tmp-", ".alphapulse-compact.lock")


def staging_dir(data_dir: Path, url: S3Url) -> Path:
    return data_dir / STAGING / url.bucket / url.key


def _local_files(root: Path) -> dict[str, int]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            if not n.startswith(_SKIP):
                p = Path(dirpath) / n
                out[p.relative_to(root).as_posix()] = p.stat().st_size
    return out


def push(store: Store, staging: Path, url: S3Url, note: Callable[[str], None]) -> int:
    """Upload the staging lake's files the bucket lacks (or holds at another size),
    verified; the number uploaded."""
    have = store.sizes(url)
    n = len(url.key) + 1 if url.key else 0
    remote = {k[n:]: size for k, size in have.items()}
    sent = 0
    for rel, size in sorted(_local_files(staging).items()):
        if remote.get(rel) != size:
            store.put_verified(staging / rel, url.child(rel))
            sent += 1
    if sent:
        note(f"{url}: {sent} lake files uploaded")
    return sent


def cache_root() -> Path:
    explicit = os.environ.get("ALPHAPULSE_LAKE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "alphapulse" / "lake"


def local_lake(path: str | Path) -> Path:
    """A lake path as a local directory: itself, or for s3:// the mirror, brought up to
    date with the bucket."""
    if not is_url(path):
        return Path(path)
    text = str(path)
    url = S3Url.parse(text)
    store = store_for(text)
    store.check_bucket(url)
    mirror = cache_root() / url.bucket / url.key
    mirror.mkdir(parents=True, exist_ok=True)
    n = len(url.key) + 1 if url.key else 0
    remote = {k[n:]: size for k, size in store.sizes(url).items()}
    local = _local_files(mirror)
    for rel, size in remote.items():
        if local.get(rel) != size:
            dest = mirror / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            store.get(url.child(rel), dest)
    for rel in set(local) - set(remote):
        (mirror / rel).unlink(missing_ok=True)
    return mirror
