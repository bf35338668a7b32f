"""Kafka client helpers shared by the services (confluent-kafka / librdkafka)."""

from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from exchange_common.config import env_str
from exchange_common.topics import ALL_TOPICS

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


def bootstrap_servers(env: Mapping[str, str] | None = None) -> str:
    return env_str("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP, env)


def producer_config(bootstrap: str, *, transactional_id: str | None = None) -> dict[str, Any]:
    """Idempotent producer: retries never duplicate or reorder within a partition."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
    }
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
    return config


def consumer_config(bootstrap: str, group_id: str) -> dict[str, Any]:
    """Manual offsets, committed data only: services store offsets where they apply."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
    }


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str] = ALL_TOPICS,
    *,
    partitions: int = 3,
    timeout_s: float = 30.0,
    config: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [str(t) for t in topics if str(t) not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
         for t in wanted],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except Exception as exc:  # already created by a concurrent caller is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return created
