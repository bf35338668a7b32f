"""The trading core's domain: matching engine and risk, pure and deterministic.

No I/O, no clock, no asyncio, no environment. Time enters as ``ts_ns`` on each command.
See services/trading-core/docs/domain-api.md for the contract of this package.

The hot modules load from the mypyc build when a fresh one exists (exchange_core.compiled;
``exchange_core.compiled.STATUS`` says which build is running).
"""

from exchange_core import compiled as _compiled

_compiled.activate(__path__, "domain")


from exchange_core.domain import codes
from exchange_core.domain.commands import (
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    SetSymbolMode,
)
from exchange_core.domain.engine import Engine
from exchange_core.domain.events import (
    BalanceApplied,
    BookDelta,
    Event,
    Level,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    SymbolModeChanged,
    TradeExecuted,
)
from exchange_core.domain.invariants import (
    ConfigError,
    DomainError,
    InvariantViolation,
    SnapshotError,
)
from exchange_core.domain.market import (
    AssetSpec,
    EngineConfig,
    MarketGrid,
    MarketSpec,
    Parsed,
    RiskLimits,
    format_asset_amount,
    format_order_id,
    format_trade_id,
    parse_asset_amount,
    parse_order_id,
)
from exchange_core.domain.results import BalanceView, Batch, BookDepth, OrderView, Result

__all__ = [
    "AssetSpec",
    "BalanceAdjust",
    "BalanceApplied",
    "BalanceView",
    "Batch",
    "BookDelta",
    "BookDepth",
    "CancelAll",
    "CancelOrder",
    "Command",
    "ConfigError",
    "DomainError",
    "Engine",
    "EngineConfig",
    "Event",
    "InvariantViolation",
    "Level",
    "MarketGrid",
    "MarketSpec",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderView",
    "Parsed",
    "PlaceOrder",
    "Result",
    "RiskLimits",
    "SetSymbolMode",
    "SnapshotError",
    "SymbolModeChanged",
    "TradeExecuted",
    "codes",
    "format_asset_amount",
    "format_order_id",
    "format_trade_id",
    "parse_asset_amount",
    "parse_order_id",
]
