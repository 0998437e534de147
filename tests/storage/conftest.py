"""One moto_server for every S3 test of the session (starting one takes a few seconds)."""

from __future__ import annotations

import pytest

from tests.helpers.s3 import S3Server, start_s3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> S3Server:
    yield from start_s3(tmp_path_factory.mktemp("moto") / "moto.log")


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict[str, str]:
    """The server's AWS variables, set in this process too (for in-process calls)."""
    for name in ("AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server.env
