"""Where the local stack's real servers are (same variables the services read)."""

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class Endpoints:
    postgres_dsn: str
    redis_url: str
    kafka_bootstrap: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    chdb_path: str

    @classmethod
    def from_env(cls) -> "Endpoints":
        env = os.environ
        return cls(
            postgres_dsn=env.get(
                "LEDGER_DATABASE_URL", "postgresql://exchange:exchange@127.0.0.1:5432/exchange"
            ),
            redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6380/0"),
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
            s3_endpoint=env.get("S3_ENDPOINT_URL", "http://127.0.0.1:19002"),
            s3_access_key=env.get("AWS_ACCESS_KEY_ID", "exchange"),
            s3_secret_key=env.get("AWS_SECRET_ACCESS_KEY", "exchange-secret"),
            chdb_path=env.get("CHDB_PATH", ".stack/chdb"),
        )


def require_tcp(url_or_hostport: str, what: str, timeout_s: float = 2.0) -> None:
    """Fail (not skip) with a clear message when a stack server is not reachable."""
    parsed = urlparse(url_or_hostport if "//" in url_or_hostport else f"tcp://{url_or_hostport}")
    host, port = parsed.hostname or "127.0.0.1", parsed.port
    if port is None:
        raise ValueError(f"no port in {url_or_hostport!r}")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        raise RuntimeError(
            f"{what} is not reachable at {host}:{port} ({exc}); start the local stack: make up"
        ) from None
