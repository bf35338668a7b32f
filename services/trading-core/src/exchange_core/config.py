"""One frozen Settings object, read from the environment once (keys named in errors)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exchange_common.config import ConfigError, Secret, env_bool, env_int, env_str
from exchange_common.topics import Topic


@dataclass(frozen=True)
class Settings:
    grpc_host: str
    grpc_port: int
    metrics_port: int
    data_dir: Path
    shard_id: str
    markets_file: Path
    snapshot_every_commands: int
    snapshot_every_seconds: int
    snapshots_kept: int
    snapshot_fork: bool
    checkpoint_every_commands: int
    wal_segment_bytes: int
    wal_prune: bool
    wal_preallocate: bool
    max_in_flight_commands: int
    kafka_bootstrap: str
    balance_topic: str
    outbox_enabled: bool
    outbox_nice: int
    balance_feed_enabled: bool
    redis_url: str
    lease_ttl_ms: int
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: Secret
    s3_archive_enabled: bool
    wal_bucket: str
    snapshot_bucket: str
    recovery_verify_all: bool = False  # serve: check every WAL checkpoint, not just the newest

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        settings = cls(
            grpc_host=env_str("CORE_GRPC_HOST", "127.0.0.1", env),
            grpc_port=env_int("CORE_GRPC_PORT", 50051, env),
            metrics_port=env_int("CORE_METRICS_PORT", 9101, env),
            data_dir=Path(env_str("CORE_DATA_DIR", ".stack/core", env)),
            shard_id=env_str("CORE_SHARD_ID", "core-0", env),
            markets_file=Path(env_str("CORE_MARKETS_FILE", "config/markets.json", env)),
            snapshot_every_commands=env_int("CORE_SNAPSHOT_EVERY_COMMANDS", 100_000, env),
            snapshot_every_seconds=env_int("CORE_SNAPSHOT_EVERY_SECONDS", 300, env),
            snapshots_kept=env_int("CORE_SNAPSHOTS_KEPT", 3, env),
            snapshot_fork=env_bool("CORE_SNAPSHOT_FORK", True, env),
            checkpoint_every_commands=env_int("CORE_CHECKPOINT_EVERY_COMMANDS", 10_000, env),
            wal_segment_bytes=env_int("CORE_WAL_SEGMENT_BYTES", 64 * 1024 * 1024, env),
            wal_prune=env_bool("CORE_WAL_PRUNE", True, env),
            wal_preallocate=env_bool("CORE_WAL_PREALLOCATE", True, env),
            max_in_flight_commands=env_int("CORE_MAX_IN_FLIGHT", 20_000, env),
            kafka_bootstrap=env_str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092", env),
            balance_topic=env_str("CORE_BALANCE_TOPIC", str(Topic.LEDGER_BALANCE_EVENTS), env),
            outbox_enabled=env_bool("CORE_OUTBOX_ENABLED", True, env),
            outbox_nice=env_int("CORE_OUTBOX_NICE", 10, env),
            balance_feed_enabled=env_bool("CORE_BALANCE_FEED_ENABLED", True, env),
            redis_url=env_str("REDIS_URL", "redis://127.0.0.1:6380/0", env),
            lease_ttl_ms=env_int("CORE_LEASE_TTL_MS", 3_000, env),
            s3_endpoint=env_str("S3_ENDPOINT_URL", "http://127.0.0.1:19002", env),
            s3_access_key=env_str("AWS_ACCESS_KEY_ID", "exchange", env),
            s3_secret_key=Secret(env_str("AWS_SECRET_ACCESS_KEY", "exchange-secret", env)),
            s3_archive_enabled=env_bool("CORE_S3_ARCHIVE_ENABLED", True, env),
            wal_bucket=env_str("CORE_WAL_BUCKET", "exchange-wal-archive", env),
            snapshot_bucket=env_str("CORE_SNAPSHOT_BUCKET", "exchange-snapshots", env),
            recovery_verify_all=env_bool("CORE_RECOVERY_VERIFY_ALL", False, env),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        positive = {
            "CORE_SNAPSHOT_EVERY_COMMANDS": self.snapshot_every_commands,
            "CORE_SNAPSHOT_EVERY_SECONDS": self.snapshot_every_seconds,
            "CORE_SNAPSHOTS_KEPT": self.snapshots_kept,
            "CORE_CHECKPOINT_EVERY_COMMANDS": self.checkpoint_every_commands,
            "CORE_WAL_SEGMENT_BYTES": self.wal_segment_bytes,
            "CORE_MAX_IN_FLIGHT": self.max_in_flight_commands,
            "CORE_LEASE_TTL_MS": self.lease_ttl_ms,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        for name, port in (("CORE_GRPC_PORT", self.grpc_port),
                           ("CORE_METRICS_PORT", self.metrics_port)):
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} out of range: {port}")
        if not 0 <= self.outbox_nice <= 19:
            raise ConfigError(f"CORE_OUTBOX_NICE must be 0..19, got {self.outbox_nice}")
        if not self.shard_id.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"CORE_SHARD_ID must be letters, digits, - or _: {self.shard_id!r}")

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def outbox_cursor_path(self) -> Path:
        return self.data_dir / "outbox.cursor"
