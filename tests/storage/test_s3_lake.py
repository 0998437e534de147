"""`compact --parquet s3://...` writes the lake to a bucket; `query --lake s3://...` and
`research.Lake("s3://...")` read it, with the answers a local lake gives."""

from __future__ import annotations

import shutil

import pytest

from alphapulse_cli.research.lake import Lake
from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir

pytestmark = pytest.mark.slow  # a moto_server, compact and query as processes


def test_the_lake_in_a_bucket_answers_like_the_local_lake(tmp_path, s3_server, s3_env, monkeypatch):
    monkeypatch.setenv("ALPHAPULSE_LAKE_CACHE", str(tmp_path / "cache"))
    bucket = s3_server.new_bucket()
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    twin = tmp_path / "twin"
    shutil.copytree(data, twin)
    url = f"s3://{bucket}/lake"

    r = run_cli("compact", str(data), "--parquet", url, env=s3_env)
    assert r.returncode == 0, r.stderr
    assert run_cli("compact", str(twin), "--parquet", str(tmp_path / "lake")).returncode == 0
    keys = sorted(s3_server.objects(bucket))
    # Every file of the lake: its tables and the adapter state it carries between hours.
    local = sorted(
        f"lake/{p.relative_to(tmp_path / 'lake').as_posix()}"
        for p in (tmp_path / "lake").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert keys == local and keys

    def query(lake: str) -> bytes:
        q = run_cli("query", "sql", "SELECT venue, count(*) FROM trades GROUP BY 1 ORDER BY 1",
                    "--lake", lake, env=s3_env)  # fmt: skip
        assert q.returncode == 0, q.stderr
        return q.stdout

    assert query(url) == query(str(tmp_path / "lake"))
    with Lake(url) as remote, Lake(tmp_path / "lake") as near:
        assert remote.trades("BTC-USD").equals(near.trades("BTC-USD"))

    again = run_cli("compact", str(data), "--parquet", url, "--stats", env=s3_env)
    assert again.returncode == 0 and b"lake files uploaded" not in again.stderr
