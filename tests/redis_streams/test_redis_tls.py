"""rediss:// end to end: a TLS-only redis-server with a password, a certificate made for
the test by `openssl`; replay publishes over TLS and tail-stream reads it back."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import RedisServer

pytestmark = pytest.mark.slow  # a redis-server with TLS, the CLI as a process


def test_rediss_with_a_password_publishes_and_tails(tmp_path, recorded_log):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    req = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    req += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    req += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(req, check=True, capture_output=True)
    server = RedisServer(tmp_path)
    server.extra = (
        *("--port", "0", "--tls-port", str(server.port), "--requirepass", "tls-pw-42"),
        *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
        *("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"),
    )
    server.start()
    try:
        url = f"rediss://:tls-pw-42@127.0.0.1:{server.port}?ssl_ca_certs={cert}"
        out = run_cli("replay", str(recorded_log), "--redis", url, "--stats")
        assert out.returncode == 0, out.stderr
        red = json.loads(out.stderr.splitlines()[-1])["sinks"]["redis"]
        assert red["published"] == red["offered"] > 1000
        assert "tls-pw-42" not in json.dumps(red)
        n = red["published"]
        args = ("trades:*", "--from", "0", "--count", str(n), "--group", "g", "--consumer", "c")
        tail = run_cli("tail-stream", *args, "--redis", url)
        assert tail.returncode == 0, tail.stderr
        got = [json.loads(x) for x in tail.stdout.splitlines()]
        assert len(got) == n and len({(g["stream"], g["id"]) for g in got}) == n
        # Plain TCP to a TLS port, or no CA to check the certificate: exit 4, one line.
        for bad in (
            f"redis://:tls-pw-42@127.0.0.1:{server.port}",
            f"rediss://:tls-pw-42@127.0.0.1:{server.port}",
        ):
            out = run_cli("tail-stream", "trades:*", "--redis", bad)
            err = out.stderr.decode()
            assert out.returncode == 4, err
            assert len(err.strip().splitlines()) == 1 and "tls-pw-42" not in err
    finally:
        server.stop()
