"""A real S3 API on loopback: `moto_server` started by the tests, with authentication on.

moto accepts any credentials unless told otherwise; with INITIAL_NO_AUTH_ACTION_COUNT=3 it
serves the first three requests unauthenticated (here: create a user, give it every right,
make its access key) and checks signatures from then on, so wrong credentials are refused
as a real store refuses them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.wait import wait_until

REGION = "us-east-1"
_NO_AUTH_REQUESTS = 3


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
        }

    def filesystem(self):
        from pyarrow import fs

        host = self.endpoint.split("://", 1)[1]
        return fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=REGION,
            endpoint_override=host,
            scheme="http",
            allow_bucket_creation=True,
            # A loaded 2-core machine can keep moto busy for seconds.
            connect_timeout=10,
            request_timeout=60,
        )

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket, by key."""
        from pyarrow import fs

        s3 = self.filesystem()
        out = {}
        for info in s3.get_file_info(fs.FileSelector(bucket, recursive=True)):
            if info.type == fs.FileType.File:
                with s3.open_input_file(info.path) as f:
                    out[info.path[len(bucket) + 1 :]] = f.read()
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    # A bare TCP connect: an HTTP request here would use up one of the unauthenticated ones.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def moto_executable() -> str | None:
    exe = Path(sys.executable).with_name("moto_server")
    return str(exe) if exe.exists() else shutil.which("moto_server")


def start_s3(log: Path) -> Iterator[S3Server]:
    """Start moto_server on a free loopback port, make a user with an access key, yield it;
    stop the server afterwards."""
    import boto3

    exe = moto_executable()
    assert exe is not None, "moto_server not found: pip install 'moto[server]'"
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_NO_AUTH_REQUESTS)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out, env=env
        )
    try:
        wait_until(lambda: proc.poll() is not None or _listening(port), 30, what="moto_server")
        assert proc.poll() is None, log.read_text()
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
            region_name=REGION,
        )
        iam.create_user(UserName="alphapulse")
        iam.put_user_policy(
            UserName="alphapulse",
            PolicyName="everything",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="alphapulse")["AccessKey"]
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
