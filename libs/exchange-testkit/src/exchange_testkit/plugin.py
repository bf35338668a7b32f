"""pytest plugin: fixtures for the local stack's servers (fail loudly when one is down)."""

from collections.abc import Iterator

import pytest

from exchange_testkit.clock import FakeClock
from exchange_testkit.endpoints import Endpoints, require_tcp


@pytest.fixture(scope="session")
def endpoints() -> Endpoints:
    return Endpoints.from_env()


@pytest.fixture(scope="session")
def postgres_dsn(endpoints: Endpoints) -> str:
    require_tcp(endpoints.postgres_dsn, "PostgreSQL")
    return endpoints.postgres_dsn


@pytest.fixture(scope="session")
def redis_url(endpoints: Endpoints) -> str:
    require_tcp(endpoints.redis_url, "Redis")
    return endpoints.redis_url


@pytest.fixture(scope="session")
def kafka_bootstrap(endpoints: Endpoints) -> str:
    require_tcp(endpoints.kafka_bootstrap, "Kafka")
    return endpoints.kafka_bootstrap


@pytest.fixture(scope="session")
def s3_endpoint(endpoints: Endpoints) -> str:
    require_tcp(endpoints.s3_endpoint, "S3 store")
    return endpoints.s3_endpoint


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    yield FakeClock()
