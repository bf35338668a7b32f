"""scripts/stack.sh up/down of the whole stack on private ports: start, restart, no leftovers."""

from typing import TYPE_CHECKING

import boto3
import psycopg
import pytest
import redis
from confluent_kafka.admin import AdminClient

from exchange_common.topics import ALL_TOPICS

if TYPE_CHECKING:
    from tests.infra.conftest import PrivateStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BUCKETS = {"exchange-wal-archive", "exchange-snapshots", "exchange-dr-backups"}


def _states(stack: "PrivateStack") -> dict[str, str]:
    done = stack.run("status")
    assert done.returncode == 0, done.stderr
    return {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()}


def _up(stack: "PrivateStack") -> None:
    done = stack.run("up")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def _check_servers_answer(stack: "PrivateStack") -> None:
    env = stack.env
    with psycopg.connect(env["LEDGER_DATABASE_URL"], connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (v int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    with redis.Redis.from_url(env["REDIS_URL"], socket_timeout=5) as client:
        client.set("kept", "1")
    topics = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]}).list_topics(
        timeout=30
    )
    assert {str(t) for t in ALL_TOPICS} <= set(topics.topics)
    s3 = boto3.client(
        "s3", endpoint_url=env["S3_ENDPOINT_URL"], aws_access_key_id="exchange",
        aws_secret_access_key="exchange-secret", region_name="us-east-1",
    )
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} >= BUCKETS
    s3.close()


def test_up_starts_every_server_down_stops_them_and_a_restart_keeps_the_data(
    private_stack: "PrivateStack",
) -> None:
    try:
        _up(private_stack)
        assert _states(private_stack) == {
            "postgres": "running", "redis": "running", "kafka": "running", "s3": "running",
            "chdb": "ready", "core": "stopped", "ledger": "stopped",  # services: up --services
        }
        _check_servers_answer(private_stack)
        assert "already running" in private_stack.run("up", "--only", "kafka").stdout

        assert private_stack.run("down").returncode == 0
        assert private_stack.processes() == []
        assert list((private_stack.dir / "run").glob("*.pid")) == []

        _up(private_stack)  # from the existing data: no initdb, no storage format
        with psycopg.connect(private_stack.env["LEDGER_DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
        with redis.Redis.from_url(private_stack.env["REDIS_URL"]) as client:
            assert client.get("kept") == b"1"
    finally:
        down = private_stack.run("down")
    assert down.returncode == 0, down.stderr
    assert private_stack.processes() == []
