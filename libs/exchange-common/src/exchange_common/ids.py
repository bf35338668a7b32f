"""Typed identifiers: a bare string never crosses an API."""

from typing import NewType

Symbol = NewType("Symbol", str)
"""Market symbol, BASE-QUOTE, e.g. ``BTC-USDT``."""

Asset = NewType("Asset", str)
"""Asset code, e.g. ``BTC``."""

AccountId = NewType("AccountId", str)
OrderId = NewType("OrderId", str)
TradeId = NewType("TradeId", str)
EventId = NewType("EventId", str)
