"""Fixtures of the core's integration tests (helpers live in core_harness.py)."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange_testkit import Endpoints

sys.path.insert(0, str(Path(__file__).parent))

from core_harness import (  # type: ignore[import-not-found]
    CoreProcess,
    Market,
    core_env,
    free_port,
    markets_file,
)


@pytest.fixture
def market() -> Market:
    return Market.fresh()


@pytest.fixture
def core_factory(
    tmp_path: Path, endpoints: Endpoints, kafka_bootstrap: str, redis_url: str, s3_endpoint: str,
) -> Iterator[Any]:
    started: list[CoreProcess] = []

    def make(market: Market, *, name: str = "core", shard_id: str | None = None,
             data_dir: Path | None = None, **extra: str) -> CoreProcess:
        directory = data_dir or tmp_path / name
        directory.mkdir(parents=True, exist_ok=True)
        markets = markets_file(tmp_path, market.symbol, market.base)
        grpc_port, metrics_port = free_port(), free_port()
        env = core_env(endpoints, market, directory, markets,
                       shard_id=shard_id or f"t-{market.run}", grpc_port=grpc_port,
                       metrics_port=metrics_port, **extra)
        core = CoreProcess(directory, env, tmp_path / f"{name}.log", grpc_port, metrics_port)
        started.append(core)
        return core

    yield make
    for core in started:
        core.kill9()


