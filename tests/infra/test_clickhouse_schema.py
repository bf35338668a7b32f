"""The shared ClickHouse schema (infra/clickhouse/schema.sql) on chDB in a private folder."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chdb import session

pytestmark = pytest.mark.integration
SCHEMA = Path(__file__).resolve().parents[2] / "infra/clickhouse/schema.sql"

TRADE_COLUMNS = (
    "symbol, time, seq, event_id, trade_id, price, quantity, quote_amount, taker_side, "
    "maker_order_id, taker_order_id, maker_account_id, taker_account_id"
)


# chDB ships no type hints for its session API.
Store = Any
_open_session: Callable[[str], Store] = session.Session


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[Store]:
    store = _open_session(str(tmp_path / "chdb"))
    try:
        store.query(SCHEMA.read_text())
        yield store
    finally:
        store.close()


def _rows(store: Store, sql: str) -> list[str]:
    text: str = store.query(sql, "TSV").bytes().decode()
    return text.splitlines()


def test_the_schema_creates_trades_and_candles_keyed_as_the_seed_says(
    chdb: Store,
) -> None:
    rows = _rows(
        chdb,
        "SELECT name, partition_key, sorting_key FROM system.tables "
        "WHERE database = 'exchange' ORDER BY name",
    )
    assert rows == [
        "candles\ttoYYYYMMDD(open_time)\tsymbol, interval, open_time",
        "trades\ttoYYYYMMDD(time)\tsymbol, time, seq",
    ]


def test_applying_the_schema_twice_changes_nothing(chdb: Store) -> None:
    chdb.query(SCHEMA.read_text())
    assert _rows(chdb, "SELECT count() FROM system.tables WHERE database = 'exchange'") == ["2"]


def test_trades_keep_exact_decimals_and_a_redelivered_trade_counts_once(
    chdb: Store,
) -> None:
    insert = f"INSERT INTO exchange.trades ({TRADE_COLUMNS}) VALUES "
    first = (
        "('BTC-USDT', '2026-01-01 23:59:59.999999999', 1, 'BTC-USDT:1:0', 't1', "
        "'50000.123456789012345678', '0.000000000000000001', '0.000000000000050000', 'BUY', "
        "'o1', 'o2', 'a1', 'a2')"
    )
    second = (
        "('BTC-USDT', '2026-01-02 00:00:00', 2, 'BTC-USDT:2:0', 't2', '50001', '2', "
        "'100002', 'SELL', 'o3', 'o4', 'a3', 'a4')"
    )
    chdb.query(insert + first + ", " + second)
    chdb.query(insert + first)  # the same trade delivered again by Kafka

    assert _rows(chdb, "SELECT count() FROM exchange.trades FINAL") == ["2"]
    assert _rows(
        chdb, "SELECT toString(price), toString(quantity) FROM exchange.trades FINAL ORDER BY seq"
    ) == ["50000.123456789012345678\t0.000000000000000001", "50001\t2"]
    partitions = _rows(
        chdb,
        "SELECT DISTINCT partition FROM system.parts WHERE database = 'exchange' "
        "AND table = 'trades' AND active ORDER BY partition",
    )
    assert partitions == ["20260101", "20260102"]


def test_a_closed_candle_replaces_the_open_one_of_the_same_window(chdb: Store) -> None:
    columns = (
        "symbol, interval, open_time, close_time, open, high, low, close, volume, "
        "quote_volume, trade_count, first_seq, last_seq, closed"
    )
    window = "'BTC-USDT', '1m', '2026-01-01 00:00:00', '2026-01-01 00:00:59.999'"
    chdb.query(
        f"INSERT INTO exchange.candles ({columns}) VALUES "
        f"({window}, '10', '11', '9', '10.5', '3', '31.5', 3, 1, 3, false)"
    )
    chdb.query(
        f"INSERT INTO exchange.candles ({columns}) VALUES "
        f"({window}, '10', '12', '9', '11.25', '4', '42.75', 4, 1, 4, true)"
    )
    assert _rows(
        chdb,
        "SELECT toString(close), trade_count, closed FROM exchange.candles FINAL "
        "WHERE symbol = 'BTC-USDT' AND interval = '1m'",
    ) == ["11.25\t4\ttrue"]
