"""Coinbase Exchange API credentials for the authenticated channels (level2, full).

They come from the environment only (never options, so they stay out of process lists and
shell history). The subscribe message is signed as the Exchange docs describe: HMAC-SHA256
with the base64-decoded secret over `timestamp + "GET" + "/users/self/verify"`.

The .wslog keeps what was sent, with one exception: `key`, `passphrase` and `signature` are
replaced by "<redacted>" in the logged copy of the subscribe (the logged frame differs from
the sent one in those three values only; `timestamp` is kept).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

from alphapulse_cli.errors import UsageError

ENV_KEY = "ALPHAPULSE_COINBASE_KEY"
ENV_SECRET = "ALPHAPULSE_COINBASE_SECRET"
ENV_PASSPHRASE = "ALPHAPULSE_COINBASE_PASSPHRASE"
SECRET_FIELDS = ("key", "passphrase", "signature")
REDACTED = "<redacted>"
AUTH_CHANNELS = frozenset(("level2", "level3", "full"))


@dataclass(frozen=True)
class CoinbaseCredentials:
    key: str
    secret: bytes
    passphrase: str

    def __repr__(self) -> str:  # never let a traceback or a debug print show them
        return "CoinbaseCredentials(<redacted>)"

    def sign(self, message: bytes, now: float | None = None) -> bytes:
        """The subscribe message with timestamp, key, passphrase and signature added."""
        obj = json.loads(message)
        stamp = str(int(now if now is not None else time.time()))
        digest = hmac.new(self.secret, (stamp + "GET/users/self/verify").encode(), hashlib.sha256)
        obj.update(
            signature=base64.b64encode(digest.digest()).decode(),
            key=self.key,
            passphrase=self.passphrase,
            timestamp=stamp,
        )
        return json.dumps(obj, separators=(",", ":")).encode()


def from_env(env: dict[str, str] | None = None) -> CoinbaseCredentials | None:
    """Credentials when all three variables are set; None when none is; else a usage error."""
    env = dict(os.environ) if env is None else env
    values = [env.get(n, "") for n in (ENV_KEY, ENV_SECRET, ENV_PASSPHRASE)]
    if not any(values):
        return None
    names = (ENV_KEY, ENV_SECRET, ENV_PASSPHRASE)
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise UsageError(
            f"Coinbase credentials incomplete: {', '.join(missing)} not set; set all three or none"
        )
    try:
        secret = base64.b64decode(values[1], validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(
            f"{ENV_SECRET}: not base64; paste the API secret as Coinbase shows it"
        ) from None
    return CoinbaseCredentials(values[0], secret, values[2])


def redact(message: bytes) -> bytes:
    """The copy of a sent frame that goes to the log: secret fields replaced."""
    if b'"signature"' not in message and b'"passphrase"' not in message:
        return message
    try:
        obj = json.loads(message)
    except ValueError:
        return message
    if not isinstance(obj, dict):
        return message
    for name in SECRET_FIELDS:
        if name in obj:
            obj[name] = REDACTED
    return json.dumps(obj, separators=(",", ":")).encode()
