-- Trade and candle history: the same file serves chDB (scripts/stack.sh up, tests) and a
-- ClickHouse server (infra/compose mounts it in /docker-entrypoint-initdb.d). Statements
-- are idempotent (IF NOT EXISTS) and separated by ';' at the end of a line.
--
-- Money: Decimal(38, 18) columns. Exact (no float anywhere), wide enough for any
-- price/quantity the engine can express (its ticks and lots are at most 18 decimals,
-- 20 integer digits), and written from the events' decimal strings without a per-symbol
-- scale lookup; sums and min/max stay exact in SQL. Times are UTC.
--
-- Re-delivery: Kafka is at-least-once, so both tables are ReplacingMergeTree on their
-- natural key; readers that must not see a duplicate before a merge use FINAL.

CREATE DATABASE IF NOT EXISTS exchange;

-- One row per fill (core.trade-events.v1). Key: (symbol, time, seq); a trade re-delivered
-- has the same key and collapses on merge.
CREATE TABLE IF NOT EXISTS exchange.trades
(
    symbol           LowCardinality(String),
    time             DateTime64(9, 'UTC'),
    seq              UInt64,
    event_id         String,
    trade_id         String,
    price            Decimal(38, 18),
    quantity         Decimal(38, 18),
    quote_amount     Decimal(38, 18),
    taker_side       Enum8('BUY' = 1, 'SELL' = 2),
    maker_order_id   String,
    taker_order_id   String,
    maker_account_id String,
    taker_account_id String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (symbol, time, seq);

-- OHLCV candles (market.candles.v1). A window is written while open and again when
-- closed; the row with the highest version (last_seq) wins on merge, so the final
-- candle replaces the partial ones.
CREATE TABLE IF NOT EXISTS exchange.candles
(
    symbol       LowCardinality(String),
    interval     LowCardinality(String),
    open_time    DateTime64(3, 'UTC'),
    close_time   DateTime64(3, 'UTC'),
    open         Decimal(38, 18),
    high         Decimal(38, 18),
    low          Decimal(38, 18),
    close        Decimal(38, 18),
    volume       Decimal(38, 18),
    quote_volume Decimal(38, 18),
    trade_count  UInt64,
    first_seq    UInt64,
    last_seq     UInt64,
    closed       Bool
)
ENGINE = ReplacingMergeTree(last_seq)
PARTITION BY toYYYYMMDD(open_time)
ORDER BY (symbol, interval, open_time);
