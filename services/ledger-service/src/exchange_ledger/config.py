"""Settings of the ledger service, read from the environment once."""

from collections.abc import Mapping
from dataclasses import dataclass

from exchange_common.config import ConfigError, Secret, env_bool, env_int, env_str
from exchange_common.kafka import bootstrap_servers
from exchange_common.topics import Topic
from exchange_ledger.adapters.migrations import check_schema_name

DEFAULT_DSN = "postgresql://exchange:exchange@127.0.0.1:5432/exchange"


@dataclass(frozen=True)
class ApiToken:
    token: Secret
    role: str
    principal: str


ROLES = ("internal", "admin", "approver")


def parse_tokens(raw: str) -> tuple[ApiToken, ...]:
    """``token:role:principal,...`` (roles: internal, admin, approver)."""
    tokens: list[ApiToken] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        fields = item.split(":")
        if len(fields) != 3 or not all(fields):
            raise ConfigError("LEDGER_API_TOKENS entries must be token:role:principal")
        if fields[1] not in ROLES:
            raise ConfigError(f"LEDGER_API_TOKENS: unknown role {fields[1]!r} (roles: {ROLES})")
        if len(fields[0]) < 16:
            raise ConfigError("LEDGER_API_TOKENS: tokens must be at least 16 characters")
        tokens.append(ApiToken(Secret(fields[0]), fields[1], fields[2]))
    return tuple(tokens)


def parse_assets(raw: str) -> dict[str, int]:
    assets: dict[str, int] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, _, scale = item.partition(":")
        if not name or not scale.isdigit() or int(scale) > 18:
            raise ConfigError(f"LEDGER_ASSETS entry {item!r} must be ASSET:SCALE (scale 0..18)")
        assets[name] = int(scale)
    return assets


@dataclass(frozen=True)
class Settings:
    database_url: Secret
    schema: str
    kafka_enabled: bool
    kafka_bootstrap: str
    consumer_group: str
    http_host: str
    http_port: int
    api_tokens: tuple[ApiToken, ...]
    assets: dict[str, int]
    batch_max: int
    otel_endpoint: str
    otel_sample_prob: str
    order_topic: str
    trade_topic: str
    group_instance_id: str
    session_timeout_ms: int
    manual_assignment: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        return cls(
            database_url=Secret(env_str("LEDGER_DATABASE_URL", DEFAULT_DSN, env)),
            schema=check_schema_name(env_str("LEDGER_DB_SCHEMA", "ledger", env)),
            kafka_enabled=env_bool("LEDGER_KAFKA_ENABLED", False, env),
            kafka_bootstrap=bootstrap_servers(env),
            consumer_group=env_str("LEDGER_CONSUMER_GROUP", "ledger-settlement", env),
            http_host=env_str("LEDGER_HTTP_HOST", "127.0.0.1", env),
            http_port=env_int("LEDGER_HTTP_PORT", 8082, env),
            api_tokens=parse_tokens(env_str("LEDGER_API_TOKENS", "", env)),
            # Scale 8 holds every amount of the default markets (tick 2 + lot 4 decimals
            # for quote amounts, lot 4..8 for base); an off-scale amount is refused.
            assets=parse_assets(env_str("LEDGER_ASSETS", "BTC:8,ETH:8,USDT:8,USDC:8", env)),
            batch_max=env_int("LEDGER_BATCH_MAX", 5000, env),
            otel_endpoint=env_str("LEDGER_OTEL_ENDPOINT", "-", env),
            otel_sample_prob=env_str("LEDGER_OTEL_SAMPLE_PROB", "1.0", env),
            order_topic=env_str("LEDGER_ORDER_TOPIC", Topic.CORE_ORDER_EVENTS, env),
            trade_topic=env_str("LEDGER_TRADE_TOPIC", Topic.CORE_TRADE_EVENTS, env),
            # Static membership: a restarted replica with the same id takes its partitions
            # back at once instead of waiting for the session of the dead one to expire.
            group_instance_id=env_str("LEDGER_GROUP_INSTANCE_ID", "-", env),
            session_timeout_ms=env_int("LEDGER_KAFKA_SESSION_TIMEOUT_MS", 10_000, env),
            # true: take every partition without a consumer group (one active replica;
            # restarts resume in well under a second). Exactly-once either way: the
            # offsets compare-and-set in PostgreSQL fences a second writer.
            manual_assignment=env_bool("LEDGER_KAFKA_MANUAL_ASSIGNMENT", False, env),
        )

