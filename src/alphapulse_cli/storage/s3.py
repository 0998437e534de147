"""S3 through pyarrow's S3FileSystem: URLs, the store from the AWS environment, errors.

Credentials and endpoint come from the standard variables: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY (both required), AWS_SESSION_TOKEN, AWS_REGION (or
AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (an S3-compatible store:
MinIO, Ceph, moto). pyarrow does not read the endpoint variables itself, so they are read
here. The secret and the session token never appear in a message: every text that leaves
this module through an exception passes `Store.mask`.

pyarrow's errors are OSErrors whose text names the AWS error code; `Store.error` turns
them into one line with the exit code of an unreachable upstream (4).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alphapulse_cli.errors import BadLogError, ObjectStoreError, UsageError, VerifyError
from alphapulse_cli.wslog.reader import LOG_SUFFIXES

SCHEME = "s3://"
MASK = "***"
# One GET or one part of an upload: large enough that a request's overhead stays small.
BLOCK = 8 << 20
_GLOB = "*?["
_DENIED = ("ACCESS_DENIED", "SIGNATURE_DOES_NOT_MATCH", "INVALID_ACCESS_KEY_ID", "EXPIRED_TOKEN")


def is_url(text: object) -> bool:
    return str(text).startswith(SCHEME)


@dataclass(frozen=True)
class S3Url:
    bucket: str
    key: str  # without a leading slash; "" for the bucket itself

    @classmethod
    def parse(cls, text: str) -> S3Url:
        if not is_url(text):
            raise UsageError(f"{text}: not an s3:// URL; expected s3://BUCKET/KEY")
        bucket, _, key = text[len(SCHEME) :].partition("/")
        if not bucket:
            raise UsageError(f"{text}: no bucket in the URL; expected s3://BUCKET/KEY")
        return cls(bucket, key.strip("/") if not any(c in key for c in _GLOB) else key)

    @property
    def path(self) -> str:
        """The path pyarrow's filesystem takes: BUCKET/KEY."""
        return f"{self.bucket}/{self.key}" if self.key else self.bucket

    def child(self, rel: str) -> S3Url:
        return S3Url(self.bucket, f"{self.key}/{rel}" if self.key else rel)

    def __str__(self) -> str:
        return SCHEME + self.path


@dataclass(frozen=True)
class Uploaded:
    url: S3Url
    size: int
    sha256: str


def _endpoint(env: Mapping[str, str]) -> tuple[str | None, str]:
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = env.get(name)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(
                    f"{name}: cannot read {value!r} as an endpoint; expected "
                    "http://HOST:PORT or https://HOST"
                )
            return parts.netloc, parts.scheme
    return None, "https"


class Store:
    """One S3 filesystem built from the environment; every call's errors translated."""

    def __init__(self, url: str, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        missing = [n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(n)]
        if missing:
            raise UsageError(
                f"{url}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                "set; export the store's credentials (and AWS_ENDPOINT_URL for a store "
                "other than AWS)"
            )
        self.secrets = [
            s for s in (env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN")) if s
        ]
        endpoint, scheme = _endpoint(env)
        self.endpoint = f"{scheme}://{endpoint}" if endpoint else "AWS"
        from pyarrow import fs

        kwargs: dict[str, Any] = {
            "access_key": env["AWS_ACCESS_KEY_ID"],
            "secret_key": env["AWS_SECRET_ACCESS_KEY"],
            "session_token": env.get("AWS_SESSION_TOKEN") or None,
            "scheme": scheme,
            "connect_timeout": 10,
            "request_timeout": 60,
            "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3),
            # A small object then goes up in one PUT instead of a three-request multipart upload.
            "allow_delayed_open": True,
        }
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            kwargs["region"] = region
        if endpoint:
            kwargs["endpoint_override"] = endpoint
        try:
            self.fs = fs.S3FileSystem(**kwargs)
        except (OSError, ValueError, TypeError) as exc:
            raise ObjectStoreError(f"{url}: cannot set up S3: {self.mask(str(exc))}") from None

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            # A very short secret is left alone: masking "a" everywhere would garble the text.
            if len(secret) >= 4:
                text = text.replace(secret, MASK)
        return text

    def error(self, exc: BaseException, where: object) -> ObjectStoreError:
        text = self.mask(" ".join(str(exc).split()))
        if any(code in text for code in _DENIED):
            return ObjectStoreError(
                f"{where}: the store at {self.endpoint} refused the credentials "
                f"(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY={MASK}) or their access: {text}"
            )
        if "NETWORK_CONNECTION" in text or "curlCode" in text:
            return ObjectStoreError(
                f"{where}: cannot reach the store at {self.endpoint}: {text}; "
                "check AWS_ENDPOINT_URL and that the store is running"
            )
        return ObjectStoreError(f"{where}: {text}")

    # ---- buckets and listings ------------------------------------------------------------
    def check_bucket(self, url: S3Url) -> None:
        """ObjectStoreError (exit 4) unless the bucket exists and our credentials work."""
        from pyarrow import fs

        try:
            info = self.fs.get_file_info(url.bucket)
        except OSError as exc:
            raise self.error(exc, url) from None
        if info.type == fs.FileType.NotFound:
            raise ObjectStoreError(
                f"{url}: no bucket {url.bucket!r} at {self.endpoint}; create it first"
            )

    def size(self, url: S3Url) -> int | None:
        """The object's size; None when there is no such object."""
        from pyarrow import fs

        try:
            info = self.fs.get_file_info(url.path)
        except OSError as exc:
            raise self.error(exc, url) from None
        return info.size if info.type == fs.FileType.File else None

    def sizes(self, url: S3Url) -> dict[str, int]:
        """Every object under the prefix `url.key`: its key and size."""
        from pyarrow import fs

        try:
            infos = self.fs.get_file_info(
                fs.FileSelector(url.path, recursive=True, allow_not_found=True)
            )
        except OSError as exc:
            raise self.error(exc, url) from None
        n = len(url.bucket) + 1
        return {i.path[n:]: i.size for i in infos if i.type == fs.FileType.File}

    def keys(self, url: S3Url) -> list[str]:
        """Every object key under the prefix `url.key`, sorted."""
        return sorted(self.sizes(url))

    def get(self, url: S3Url, local: Path) -> None:
        """Download an object to `local`, atomically (a temporary name, then a rename)."""
        tmp = local.with_name(f".alphapulse-tmp-{local.name}.{os.getpid()}")
        try:
            with self.fs.open_input_file(url.path) as f, open(tmp, "wb") as out:
                while True:
                    block = f.read(BLOCK)
                    if not block:
                        break
                    out.write(block)
            os.replace(tmp, local)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.filename is not None:
                raise
            raise self.error(exc, url) from None

    def expand(self, text: str) -> list[str]:
        """`replay`'s inputs from one URL: an object; a prefix (walked for logs); or a glob
        (`s3://b/logs/coinbase/20260101_1*`) matched against every key under its fixed part."""
        url = S3Url.parse(text)
        self.check_bucket(url)
        glob = next((i for i, c in enumerate(url.key) if c in _GLOB), None)
        if glob is None:
            if self.size(url) is not None:
                return [str(url)]
            base, pattern = url, None
        else:
            base = S3Url(url.bucket, url.key[: url.key.rfind("/", 0, glob) + 1].rstrip("/"))
            pattern = url.key
        keys = [
            k
            for k in self.keys(base)
            if k.endswith(LOG_SUFFIXES)
            and not k.rsplit("/", 1)[-1].startswith(".")
            and (pattern is None or fnmatch.fnmatchcase(k, pattern))
        ]
        # As for directories: where X.wslog and X.wslog.zst both exist, read the raw file.
        have = set(keys)
        keys = [k for k in keys if not (k.endswith(".zst") and k[:-4] in have)]
        if not keys:
            what = "matches no log" if pattern else "no such object, and no logs under it"
            raise BadLogError(text, 0, what, "check the URL (list it with `aws s3 ls`)")
        return [str(S3Url(url.bucket, k)) for k in keys]

    # ---- objects ---------------------------------------------------------------------------
    def open_read(self, text: str) -> BlockReader:
        url = S3Url.parse(text)
        try:
            return BlockReader(self.fs.open_input_file(url.path))
        except FileNotFoundError:
            raise BadLogError(text, 0, "no such object", "check the URL") from None
        except OSError as exc:
            raise self.error(exc, url) from None

    def digest(self, url: S3Url) -> tuple[int, str]:
        """(size, sha256) of the object as the store holds it, read back in full."""
        h = hashlib.sha256()
        size = 0
        try:
            with self.fs.open_input_file(url.path) as f:
                while True:
                    block = f.read(BLOCK)
                    if not block:
                        break
                    h.update(block)
                    size += len(block)
        except FileNotFoundError:
            raise VerifyError(f"{url}: gone right after its upload; nothing deleted") from None
        except OSError as exc:
            raise self.error(exc, url) from None
        return size, h.hexdigest()

    def put(self, local: Path, url: S3Url) -> Uploaded:
        """Upload `local` to `url`; its size and sha256 as read while uploading. S3 makes an
        object visible only once its upload completes, so a kill leaves no partial object."""
        h = hashlib.sha256()
        size = 0
        try:
            # compression=None: by default pyarrow would zstd-compress a name ending in .zst
            # again (its "detect" follows the extension).
            with (
                open(local, "rb") as src,
                self.fs.open_output_stream(url.path, compression=None) as out,
            ):
                while True:
                    block = src.read(BLOCK)
                    if not block:
                        break
                    h.update(block)
                    out.write(block)
                    size += len(block)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.filename is not None:
                raise  # a local file problem, reported as such by the caller
            raise self.error(exc, url) from None
        return Uploaded(url, size, h.hexdigest())

    def put_verified(
        self, local: Path, url: S3Url, after_put: Callable[[Uploaded], None] | None = None
    ) -> Uploaded:
        """Upload, then read the object back: VerifyError (exit 3) unless it has the size
        and sha256 of what was sent. `after_put` runs in between (tests change the object
        there, as another writer or a faulty store would)."""
        sent = self.put(local, url)
        if after_put is not None:
            after_put(sent)
        size, sha = self.digest(url)
        if size != sent.size or sha != sent.sha256:
            raise VerifyError(
                f"{url}: the store holds {size} bytes with sha256 {sha[:16]}..., but "
                f"{sent.size} bytes with sha256 {sent.sha256[:16]}... were uploaded from "
                f"{local}; kept {local}"
            )
        return sent


class BlockReader:
    """A read(n) stream over an S3 object that fetches BLOCK bytes per request (the zstd
    reader asks for 128 KiB at a time; one GET each would be slow)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            out = self._buf[self._pos :] + self._f.read()
            self._buf, self._pos = b"", 0
            return out
        if self._pos >= len(self._buf):
            self._buf = self._f.read(max(n, BLOCK))
            self._pos = 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def close(self) -> None:
        self._f.close()


_stores: dict[tuple[str, ...], Store] = {}
_lock = threading.Lock()
_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
)


def store_for(url: str) -> Store:
    """The Store for the current environment (one per distinct set of AWS variables)."""
    key = tuple(os.environ.get(n, "") for n in _ENV)
    with _lock:
        st = _stores.get(key)
        if st is None:
            st = _stores[key] = Store(url)
        return st
