"""Request bodies of the HTTP API. Amounts are decimal strings, never numbers."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_ID = Field(min_length=1, max_length=128)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EventHead(_Body):
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    symbol: str = Field(min_length=1, max_length=32)
    seq: int = Field(ge=0)
    epoch: int = Field(ge=0)


class TradeBody(EventHead):
    trade_id: str = _ID
    base_asset: str = Field(min_length=1, max_length=16)
    quote_asset: str = Field(min_length=1, max_length=16)
    price: str = Field(min_length=1, max_length=64)
    quantity: str = Field(min_length=1, max_length=64)
    quote_amount: str = Field(min_length=1, max_length=64)
    taker_side: Literal["BUY", "SELL"]
    maker_order_id: str = _ID
    taker_order_id: str = _ID
    maker_account_id: str = _ID
    taker_account_id: str = _ID
    buyer_fee: str = Field(default="0", max_length=64)
    seller_fee: str = Field(default="0", max_length=64)
    buyer_refund: str = Field(default="0", max_length=64)


class ReserveBody(EventHead):
    order_id: str = _ID
    account_id: str = _ID
    asset: str = Field(min_length=1, max_length=16)
    amount: str = Field(min_length=1, max_length=64)


class ReleaseBody(ReserveBody):
    reason: Literal["canceled", "expired", "filled"]


class EngineSeqBody(_Body):
    symbol: str = Field(min_length=1, max_length=32)
    seq: int = Field(ge=0)


class AdjustmentBody(_Body):
    adjustment_id: str = _ID
    account_id: str = _ID
    asset: str = Field(min_length=1, max_length=16)
    delta: str = Field(min_length=1, max_length=64)
    kind: Literal["deposit", "withdrawal", "credit", "debit"]
    reason: str = Field(min_length=1, max_length=500)


class RebuildBody(_Body):
    repair: bool = False


class CorrectionBody(_Body):
    entry_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=500)
