from pathlib import Path

import pytest

from exchange_common.config import ConfigError
from exchange_core.adapters.market_config import parse_markets
from exchange_core.config import Settings


def test_defaults_follow_the_issue() -> None:
    settings = Settings.from_env({})
    assert (settings.grpc_port, settings.metrics_port) == (50051, 9101)
    assert settings.wal_dir == Path(".stack/core/wal")
    assert "exchange-secret" not in repr(settings)


def test_bad_values_name_their_key() -> None:
    with pytest.raises(ConfigError, match="CORE_SNAPSHOT_EVERY_COMMANDS"):
        Settings.from_env({"CORE_SNAPSHOT_EVERY_COMMANDS": "0"})
    with pytest.raises(ConfigError, match="CORE_GRPC_PORT"):
        Settings.from_env({"CORE_GRPC_PORT": "http"})
    with pytest.raises(ConfigError, match="CORE_OUTBOX_NICE"):
        Settings.from_env({"CORE_OUTBOX_NICE": "-5"})  # never above the command path


def test_a_markets_file_with_unknown_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_markets({"markets": [{"symbol": "X-Y", "tick": "1"}]})
    with pytest.raises(ConfigError, match="no markets"):
        parse_markets({"assets": []})


def test_the_documented_example_markets_file_builds_an_engine() -> None:
    from exchange_core.adapters.market_config import load_markets
    from exchange_core.domain import Engine

    example = Path(__file__).resolve().parents[3] / "docs" / "markets.example.json"
    engine = Engine(load_markets(example))
    assert engine.grid("BTC-USDT") is not None and engine.grid("ETH-USDT") is not None
