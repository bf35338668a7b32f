"""Where every server of the stack lives: ports, directories, credentials (read once)."""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from stack.errors import StackError

DEFAULT_PG_URL = "postgresql://exchange:exchange@127.0.0.1:5432/exchange"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6380/0"
DEFAULT_KAFKA = "127.0.0.1:19092"
DEFAULT_KAFKA_CONTROLLER_PORT = 19093
DEFAULT_S3_URL = "http://127.0.0.1:19002"
# SeaweedFS opens side ports (master, volume, filer, their gRPC ports, admin); they go on
# a block of 9 ports from this base instead of its defaults (8888, 9333, ...).
DEFAULT_S3_SIDE_PORT_BASE = 19400
DEFAULT_ACCESS_KEY = "exchange"
DEFAULT_SECRET_KEY = "exchange-secret"
S3_BUCKETS = ("exchange-wal-archive", "exchange-snapshots", "exchange-dr-backups")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class PgSettings:
    url: str
    host: str
    port: int
    user: str
    password: str
    database: str


@dataclass(frozen=True)
class Settings:
    repo: Path
    stack_dir: Path
    pg: PgSettings
    redis_url: str
    redis: Endpoint
    kafka: Endpoint
    kafka_controller_port: int
    kafka_lib_dir: Path
    kafka_heap: str
    s3_url: str
    s3: Endpoint
    s3_side_port_base: int
    s3_access_key: str
    s3_secret_key: str
    chdb_path: Path
    weed_bin: Path

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.stack_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"


def _loopback(host: str, what: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise StackError(f"{what}: host {host!r} is not loopback; the stack binds loopback only")


def _url_endpoint(url: str, what: str, default_port: int) -> Endpoint:
    parsed = urlparse(url if "//" in url else f"tcp://{url}")
    try:
        port = parsed.port or default_port
    except ValueError:
        raise StackError(f"{what}: bad port in {url!r}") from None
    return Endpoint(_loopback(parsed.hostname or "127.0.0.1", what), port)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, got {raw!r}") from None


def _pg(env: Mapping[str, str]) -> PgSettings:
    url = env.get("LEDGER_DATABASE_URL") or DEFAULT_PG_URL
    parsed = urlparse(url)
    where = _url_endpoint(url, "LEDGER_DATABASE_URL", 5432)
    return PgSettings(
        url=url,
        host=where.host,
        port=where.port,
        user=parsed.username or "exchange",
        password=parsed.password or "exchange",
        database=(parsed.path or "/exchange").lstrip("/") or "exchange",
    )


def load(env: Mapping[str, str] | None = None, repo: Path | None = None) -> Settings:
    """Read the stack's settings from the environment (defaults: the seed's ports)."""
    source = os.environ if env is None else env
    root = repo or Path(__file__).resolve().parents[2]
    stack_dir = Path(source.get("STACK_DIR") or root / ".stack").resolve()
    redis_url = source.get("REDIS_URL") or DEFAULT_REDIS_URL
    s3_url = source.get("S3_ENDPOINT_URL") or DEFAULT_S3_URL
    return Settings(
        repo=root,
        stack_dir=stack_dir,
        pg=_pg(source),
        redis_url=redis_url,
        redis=_url_endpoint(redis_url, "REDIS_URL", 6379),
        kafka=_url_endpoint(
            (source.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_KAFKA).split(",")[0],
            "KAFKA_BOOTSTRAP_SERVERS",
            9092,
        ),
        kafka_controller_port=_int(source, "KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
        kafka_lib_dir=Path(source.get("KAFKA_LIB_DIR") or root / "infra/local/lib"),
        kafka_heap=source.get("KAFKA_HEAP") or "512m",
        s3_url=s3_url,
        s3=_url_endpoint(s3_url, "S3_ENDPOINT_URL", 80),
        s3_side_port_base=_int(source, "S3_SIDE_PORT_BASE", DEFAULT_S3_SIDE_PORT_BASE),
        s3_access_key=source.get("AWS_ACCESS_KEY_ID") or DEFAULT_ACCESS_KEY,
        s3_secret_key=source.get("AWS_SECRET_ACCESS_KEY") or DEFAULT_SECRET_KEY,
        chdb_path=Path(source.get("CHDB_PATH") or stack_dir / "chdb").resolve(),
        weed_bin=Path(source.get("WEED_BIN") or root / ".venv/bin/weed"),
    )


def shell_exports(settings: Settings) -> list[str]:
    """The lines a shell evals to reach this stack (``scripts/stack.sh env``)."""
    values = {
        "STACK_DIR": str(settings.stack_dir),
        "LEDGER_DATABASE_URL": settings.pg.url,
        "REDIS_URL": settings.redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": f"{settings.kafka.host}:{settings.kafka.port}",
        "KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
        "S3_ENDPOINT_URL": settings.s3_url,
        "S3_SIDE_PORT_BASE": str(settings.s3_side_port_base),
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "CHDB_PATH": str(settings.chdb_path),
    }
    return [f"export {name}={_quote(value)}" for name, value in values.items()]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"
