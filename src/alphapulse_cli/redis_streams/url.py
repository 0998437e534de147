"""Redis URLs: the default chain, parsing, and keeping passwords out of every message.

Accepted forms (the redis-py spelling, so URLs can be shared with other tools)::

    redis://[[user]:password@]host[:port][/db]
    rediss://...                  TLS; ?ssl_cert_reqs=none|optional|required, ?ssl_ca_certs=PATH,
                                  ?ssl_certfile=PATH, ?ssl_keyfile=PATH
    unix:///path/to/redis.sock[?db=N&password=P]
    redis+cluster://[[user]:password@]host:port[,host:port...]
                                  Redis Cluster: the hosts are seeds, slots are discovered
    rediss+cluster://...          the same over TLS, with the rediss:// options
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, quote, unquote, urlsplit

from alphapulse_cli.errors import UsageError

ENV_VAR = "ALPHAPULSE_REDIS_URL"
DEFAULT_URL = "redis://127.0.0.1:6379"
MASK = "***"


def resolve_url(url: str | None) -> str:
    """--redis, then $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379."""
    if url:
        return url
    return os.environ.get(ENV_VAR) or DEFAULT_URL


@dataclass(frozen=True)
class RedisTarget:
    """Where and how to connect; ``display`` is the URL with the password masked."""

    scheme: str
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_options: tuple[tuple[str, str], ...] = ()
    display: str = ""
    # Cluster seeds, (host, port) each; empty for one server.
    seeds: tuple[tuple[str, int], ...] = ()

    @property
    def tls(self) -> bool:
        return self.scheme in ("rediss", "rediss+cluster")

    @property
    def cluster(self) -> bool:
        return self.scheme.endswith("+cluster")

    def node(self, host: str, port: int) -> RedisTarget:
        """One node of a cluster, with this URL's credentials and TLS options."""
        scheme = "rediss" if self.tls else "redis"
        user = f"{quote(self.username, safe='')}" if self.username else ""
        auth = f"{user}:{MASK}@" if self.password is not None else (f"{user}@" if user else "")
        shown = f"[{host}]" if ":" in host else host
        return replace(
            self,
            scheme=scheme,
            host=host,
            port=port,
            seeds=(),
            display=f"{scheme}://{auth}{shown}:{port}",
        )

    def redact(self, text: str) -> str:
        """Mask the password wherever it appears in text (exception messages included)."""
        # Our own messages use `display`; this is the net under library and OS error texts.
        # Very short passwords are left alone: masking "a" everywhere would garble the text.
        if self.password and len(self.password) >= 4:
            text = text.replace(self.password, MASK).replace(quote(self.password, safe=""), MASK)
        return text

    def ssl_context(self) -> ssl.SSLContext:
        opts = dict(self.tls_options)
        ctx = ssl.create_default_context(cafile=opts.get("ssl_ca_certs"))
        reqs = opts.get("ssl_cert_reqs", "required").lower()
        if reqs in ("none", "optional"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE if reqs == "none" else ssl.CERT_OPTIONAL
        if opts.get("ssl_check_hostname", "").lower() in ("false", "0", "no"):
            ctx.check_hostname = False
        if "ssl_certfile" in opts:
            ctx.load_cert_chain(opts["ssl_certfile"], opts.get("ssl_keyfile"))
        return ctx


_TLS_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***; never raises."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _pw = userinfo.partition(":")
            # A lone userinfo (redis://secret@host) is the password, as redis-py reads it.
            netloc = f"{user}:{MASK}@{hostport}" if sep else f"{MASK}@{hostport}"
        query = parts.query
        if "password=" in query:
            query = "&".join(
                f"password={MASK}" if q.startswith("password=") else q for q in query.split("&")
            )
        out = f"{parts.scheme}://{netloc}{parts.path}"
        return f"{out}?{query}" if query else out
    except Exception:
        return "<redis url>"


def _parse_cluster_url(url: str, shown: str) -> RedisTarget:
    scheme, _, rest = url.partition("://")
    netloc, _, query_text = rest.partition("?")
    netloc, _, path = netloc.partition("/")
    if path.strip("/") not in ("", "0"):
        raise UsageError(f"--redis {shown}: a cluster has only database 0; drop /{path}")
    userinfo, at, hostlist = netloc.rpartition("@")
    seeds = []
    for item in hostlist.split(","):
        try:
            parts = urlsplit(f"redis://{item.strip()}")
            host, port = parts.hostname, parts.port or 6379
        except ValueError as exc:
            raise UsageError(f"--redis {shown}: cannot parse {item!r} ({exc})") from None
        if not host:
            raise UsageError(
                f"--redis {shown}: no host in {item!r}; expected "
                "redis+cluster://host:port[,host:port...]"
            )
        seeds.append((host, port))
    # The first seed stands for the rest in the single-server parsing of credentials and TLS.
    one = parse_url(f"{scheme.lower().removesuffix('+cluster')}://{userinfo}{at}x?{query_text}")
    if one.db:
        raise UsageError(f"--redis {shown}: a cluster has only database 0")
    return replace(
        one,
        scheme=scheme.lower(),
        host=seeds[0][0],
        port=seeds[0][1],
        seeds=tuple(seeds),
        display=shown,
    )


def parse_url(url: str) -> RedisTarget:
    """Parse and check a Redis URL; a bad one raises UsageError naming it (password masked)."""
    shown = redact_url(url)
    if url.lower().partition("://")[0] in ("redis+cluster", "rediss+cluster"):
        return _parse_cluster_url(url, shown)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--redis {shown}: cannot parse the URL ({exc})") from None
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None and username is not None and ":" not in parts.netloc.rpartition("@")[0]:
        # redis://secret@host means the password "secret" for the default user.
        password, username = username, None
    if "password" in query:
        password = query["password"]
    if "username" in query:
        username = query["username"]
    db_text = query.get("db", "")
    if scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise UsageError(f"--redis {shown}: no host; expected redis://host:port")
        path = parts.path.strip("/")
        if path:
            db_text = path
        host, port_num, sock = parts.hostname, port or 6379, ""
    elif scheme == "unix":
        if not parts.path:
            raise UsageError(f"--redis {shown}: no socket path; expected unix:///path/redis.sock")
        host, port_num, sock = "", 0, parts.path
    else:
        raise UsageError(
            f"--redis {shown}: unknown scheme {parts.scheme!r}; expected redis://, rediss://, "
            "unix:// or redis+cluster://"
        )
    try:
        db = int(db_text) if db_text else 0
    except ValueError:
        raise UsageError(f"--redis {shown}: database {db_text!r} is not a number") from None
    tls = tuple((k, query[k]) for k in _TLS_KEYS if k in query)
    if tls and scheme != "rediss":
        raise UsageError(f"--redis {shown}: ssl_* options need a rediss:// URL")
    return RedisTarget(
        scheme=scheme,
        host=host,
        port=port_num,
        path=sock,
        db=db,
        username=username,
        password=password,
        tls_options=tls,
        display=shown,
    )
