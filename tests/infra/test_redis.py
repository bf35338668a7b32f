"""Redis of the local stack: reachable, round-trips values, persists with an append-only file."""

import uuid

import pytest
import redis

pytestmark = pytest.mark.integration


def test_a_value_set_with_a_ttl_reads_back_and_is_deleted(redis_url: str) -> None:
    key = f"stack-probe:{uuid.uuid4().hex}"
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        try:
            assert client.set(key, b"\x00payload\xff", ex=60)
            assert client.get(key) == b"\x00payload\xff"
            assert 0 < client.ttl(key) <= 60
        finally:
            client.delete(key)
        assert client.exists(key) == 0


def test_the_append_only_file_is_on(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
