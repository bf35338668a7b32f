"""Kafka topics of the platform: versioned names and what each is keyed by."""

from enum import StrEnum


class Topic(StrEnum):
    CORE_TRADE_EVENTS = "core.trade-events.v1"
    CORE_ORDER_EVENTS = "core.order-events.v1"
    CORE_BOOK_EVENTS = "core.book-events.v1"
    LEDGER_BALANCE_EVENTS = "ledger.balance-events.v1"
    MARKET_CANDLES = "market.candles.v1"
    MARKET_TICKER = "market.ticker.v1"


ALL_TOPICS: tuple[Topic, ...] = tuple(Topic)

# Record key of each topic: order per key holds.
TOPIC_KEYS: dict[Topic, str] = {
    Topic.CORE_TRADE_EVENTS: "symbol",
    Topic.CORE_ORDER_EVENTS: "symbol",
    Topic.CORE_BOOK_EVENTS: "symbol",
    Topic.LEDGER_BALANCE_EVENTS: "account_id",
    Topic.MARKET_CANDLES: "symbol",
    Topic.MARKET_TICKER: "symbol",
}
