"""Domain events -> contract events (exchange.v1 OrderEvent / TradeEvent / BookEvent).

Each event gets the envelope with a deterministic event_id made of (symbol, symbol seq,
index of the event in its batch), so a re-published event carries the same id. Integers
become canonical decimal strings with the market's grid.
"""

from collections.abc import Iterator

from exchange.core.v1 import wal_pb2
from exchange.v1 import events_pb2
from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_common.envelope import EVENT_VERSION, make_event_id, timestamp_from_ns
from exchange_common.ids import Asset, Symbol
from exchange_common.topics import Topic
from exchange_core.domain import (
    BalanceApplied,
    BookDelta,
    Engine,
    Event,
    Level,
    MarketGrid,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    Result,
    TradeExecuted,
    format_asset_amount,
    format_order_id,
    format_trade_id,
)

ORDER_TOPIC = str(Topic.CORE_ORDER_EVENTS)
TRADE_TOPIC = str(Topic.CORE_TRADE_EVENTS)
BOOK_TOPIC = str(Topic.CORE_BOOK_EVENTS)
ACCOUNT_PRODUCER = "accounts"
AnyEvent = events_pb2.OrderEvent | events_pb2.TradeEvent | events_pb2.BookEvent


_CACHE_MAX = 50_000


class CachedGrid:
    """A market's integer -> decimal string formatting, memoized (bounded).

    Prices, quantities and amounts repeat a lot within a market, and formatting is the
    largest cost of turning events into messages on the command path.
    """

    __slots__ = ("_amounts", "_grid", "_prices", "_quantities", "base", "quote", "symbol")

    def __init__(self, grid: MarketGrid) -> None:
        self._grid = grid
        self.symbol: str = grid.symbol
        self.base: Asset = grid.base
        self.quote: Asset = grid.quote
        self._prices: dict[int, str] = {}
        self._quantities: dict[int, str] = {}
        self._amounts: dict[tuple[str, int], str] = {}

    def format_price(self, ticks: int) -> str:
        text = self._prices.get(ticks)
        if text is None:
            if len(self._prices) >= _CACHE_MAX:
                self._prices.clear()
            text = self._prices[ticks] = self._grid.format_price(ticks)
        return text

    def format_quantity(self, lots: int) -> str:
        text = self._quantities.get(lots)
        if text is None:
            if len(self._quantities) >= _CACHE_MAX:
                self._quantities.clear()
            text = self._quantities[lots] = self._grid.format_quantity(lots)
        return text

    def format_amount(self, asset: str, units: int) -> str:
        key = (asset, units)
        text = self._amounts.get(key)
        if text is None:
            if len(self._amounts) >= _CACHE_MAX:
                self._amounts.clear()
            text = self._amounts[key] = self._grid.format_amount(Asset(asset), units)
        return text


class EventMapper:
    def __init__(self, engine: Engine, shard_id: str) -> None:
        self._engine = engine
        self._shard_id = shard_id
        self._grids: dict[str, CachedGrid] = {}

    def grid(self, symbol: str) -> CachedGrid:
        grid = self._grids.get(symbol)
        if grid is None:
            found = self._engine.grid(Symbol(symbol))
            if found is None:
                raise KeyError(f"no market {symbol!r}")
            grid = self._grids[symbol] = CachedGrid(found)
        return grid

    def outbox_events(
        self, result: Result, *, wal_seq: int, ts_ns: int, epoch: int, correlation_id: str = ""
    ) -> Iterator[wal_pb2.OutboxEvent]:
        causation = f"{self._shard_id}:{wal_seq}"
        occurred_at = timestamp_from_ns(ts_ns)
        for batch in result.batches():
            producer = batch.symbol or ACCOUNT_PRODUCER
            for index, event in enumerate(batch.events):
                # The fields of exchange_common.make_envelope, with the timestamp built once.
                envelope = EventEnvelope(
                    event_id=make_event_id(producer, batch.seq, index),
                    event_version=EVENT_VERSION, symbol=batch.symbol, seq=batch.seq,
                    occurred_at=occurred_at, correlation_id=correlation_id,
                    causation_id=causation, epoch=epoch,
                )
                mapped = self._to_proto(batch.symbol, event, envelope)
                if mapped is not None:
                    topic, key, message = mapped
                    yield wal_pb2.OutboxEvent(
                        topic=topic, key=key, event_id=envelope.event_id,
                        payload=message.SerializeToString(),
                    )

    def _to_proto(
        self, symbol: str, event: Event, envelope: EventEnvelope
    ) -> tuple[str, str, AnyEvent] | None:
        if isinstance(event, BalanceApplied):
            return ORDER_TOPIC, event.account_id, self._balance(event, envelope)
        grid = self.grid(symbol)
        if isinstance(event, TradeExecuted):
            return TRADE_TOPIC, symbol, events_pb2.TradeEvent(
                envelope=envelope, trade=self.trade(grid, event))
        if isinstance(event, BookDelta):
            return BOOK_TOPIC, symbol, events_pb2.BookEvent(
                envelope=envelope, delta=events_pb2.BookDelta(
                    bids=_levels(grid, event.bids), asks=_levels(grid, event.asks)))
        order_event = self._order_event(grid, event, envelope)
        return None if order_event is None else (ORDER_TOPIC, symbol, order_event)

    def _order_event(
        self, grid: CachedGrid, event: Event, envelope: EventEnvelope
    ) -> events_pb2.OrderEvent | None:
        symbol = grid.symbol
        if isinstance(event, OrderAccepted):
            return events_pb2.OrderEvent(envelope=envelope, accepted=events_pb2.OrderAccepted(
                order_id=format_order_id(symbol, event.order_id),
                client_order_id=event.client_order_id, account_id=event.account_id,
                side=event.side, order_type=event.order_type,  # type: ignore[arg-type]
                time_in_force=event.time_in_force,  # type: ignore[arg-type]
                price=grid.format_price(event.price_ticks) if event.price_ticks else "",
                quantity=grid.format_quantity(event.qty_lots),
                quote_budget=grid.format_amount(grid.quote, event.quote_budget)
                if event.quote_budget else "",
                post_only=event.post_only, self_trade_prevention=event.stp,  # type: ignore[arg-type]
                reserved_asset=event.reserved_asset,
                reserved_amount=grid.format_amount(event.reserved_asset, event.reserved_amount),
                protection_price=grid.format_price(event.protection_ticks)
                if event.protection_ticks else "",
            ))
        if isinstance(event, OrderRejected):
            return events_pb2.OrderEvent(envelope=envelope, rejected=events_pb2.OrderRejected(
                client_order_id=event.client_order_id, account_id=event.account_id,
                code=event.code, reason=event.reason,  # type: ignore[arg-type]
                order_id=format_order_id(symbol, event.order_id) if event.order_id else "",
            ))
        if isinstance(event, OrderCanceled):
            return events_pb2.OrderEvent(envelope=envelope, canceled=events_pb2.OrderCanceled(
                order_id=format_order_id(symbol, event.order_id),
                client_order_id=event.client_order_id, account_id=event.account_id,
                reason=event.reason,  # type: ignore[arg-type]
                filled_quantity=grid.format_quantity(event.filled_lots),
                canceled_quantity=grid.format_quantity(event.canceled_lots),
                released_asset=event.released_asset,
                released_amount=grid.format_amount(event.released_asset, event.released_amount),
            ))
        if isinstance(event, OrderFilled):
            return events_pb2.OrderEvent(envelope=envelope, filled=events_pb2.OrderFilled(
                order_id=format_order_id(symbol, event.order_id),
                client_order_id=event.client_order_id, account_id=event.account_id,
                filled_quantity=grid.format_quantity(event.filled_lots),
                released_asset=event.released_asset,
                released_amount=grid.format_amount(event.released_asset, event.released_amount),
            ))
        return None  # SymbolModeChanged: domain-only, no contract message yet

    def trade(self, grid: CachedGrid, t: TradeExecuted) -> events_pb2.TradeExecuted:
        symbol, quote = grid.symbol, grid.quote
        return events_pb2.TradeExecuted(
            trade_id=format_trade_id(symbol, t.trade_id), base_asset=grid.base,
            quote_asset=quote, price=grid.format_price(t.price_ticks),
            quantity=grid.format_quantity(t.qty_lots),
            quote_amount=grid.format_amount(quote, t.quote_amount),
            taker_side=t.taker_side,  # type: ignore[arg-type]
            maker_order_id=format_order_id(symbol, t.maker_order_id),
            taker_order_id=format_order_id(symbol, t.taker_order_id),
            maker_account_id=t.maker_account_id, taker_account_id=t.taker_account_id,
            buyer_fee=grid.format_amount(quote, t.buyer_fee),
            seller_fee=grid.format_amount(quote, t.seller_fee),
            buyer_refund=grid.format_amount(quote, t.buyer_refund),
            maker_client_order_id=t.maker_client_order_id,
            taker_client_order_id=t.taker_client_order_id,
        )

    def _balance(
        self, event: BalanceApplied, envelope: EventEnvelope
    ) -> events_pb2.OrderEvent:
        scale = self._engine.asset_scale(event.asset) or 0
        return events_pb2.OrderEvent(envelope=envelope, balance_applied=events_pb2.BalanceApplied(
            adjustment_id=event.adjustment_id, account_id=event.account_id, asset=event.asset,
            delta=format_asset_amount(scale, event.delta), applied=event.applied,
            code=event.code,  # type: ignore[arg-type]
        ))


def level(grid: CachedGrid, lvl: Level) -> events_pb2.PriceLevel:
    price_ticks, qty_lots, count = lvl
    return events_pb2.PriceLevel(price=grid.format_price(price_ticks),
                                 quantity=grid.format_quantity(qty_lots), order_count=count)


def _levels(grid: CachedGrid, levels: tuple[Level, ...]) -> list[events_pb2.PriceLevel]:
    return [level(grid, lvl) for lvl in levels]
