"""Domain events -> contract events (exchange.v1 OrderEvent / TradeEvent / BookEvent).

Each event gets the envelope with a deterministic event_id made of (symbol, symbol seq,
index of the event in its batch), so a re-published event carries the same id. Integers
become canonical decimal strings with the market's grid.
"""

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.core.v1.wal_pb2 import CommandEvents
from exchange.v1 import events_pb2
from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_common.envelope import EVENT_VERSION
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
# OutboxEvent.topic (field 1), serialized once per topic.
_TOPIC_FIELDS = {t: b"\n" + bytes((len(t),)) + t.encode()
                 for t in (ORDER_TOPIC, TRADE_TOPIC, BOOK_TOPIC)}


_CACHE_MAX = 50_000
_NS_PER_S = 1_000_000_000
_SHORT = [bytes((n,)) for n in range(128)]
# Length-delimited field keys ((field number << 3) | 2) of the event bodies.
_ACCEPTED, _REJECTED, _CANCELED, _FILLED, _BALANCE_APPLIED = b"\x12", b"\x1a", b'"', b"2", b":"
_TRADE = _DELTA = b"\x12"  # TradeEvent.trade = 2, BookEvent.delta = 2


def _varint(value: int) -> bytes:
    if value < 128:
        return _SHORT[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _uint_field(tag: bytes, value: int) -> bytes:
    """A varint field (uint64, or a positive int64); zero is omitted, as in proto3."""
    return tag + _varint(value) if value else b""


def _string_field(tag: bytes, text: str) -> bytes:
    """A length-delimited field; empty is omitted, as proto3 serialization does."""
    if not text:
        return b""
    data = text.encode()
    return tag + _varint(len(data)) + data


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

    def command_events(
        self, result: Result, *, wal_seq: int, ts_ns: int, epoch: int, correlation_id: str = ""
    ) -> bytes:
        """The serialized ``wal.v1.CommandEvents`` of a command, built as bytes.

        Byte-identical to building the messages (``CommandEvents(events=[OutboxEvent(
        payload=OrderEvent(envelope=..., ...).SerializeToString())])``) and serializing,
        because protobuf writes fields in number order: ``event_id`` is field 1 of the
        envelope, the envelope field 1 of every event, ``events`` field 3 of
        CommandEvents. So the envelope's shared part is serialized once per batch, each
        body once, and nothing is copied from message to message.
        """
        causation = f"{self._shard_id}:{wal_seq}"
        seconds, nanos = divmod(ts_ns, _NS_PER_S)
        occurred_at = Timestamp(seconds=seconds, nanos=nanos)
        parts = [_uint_field(b"\x08", wal_seq) + _uint_field(b"\x10", epoch)]
        append = parts.append
        for batch in result.batches():
            symbol = batch.symbol
            producer = symbol or ACCOUNT_PRODUCER
            shared = EventEnvelope(
                event_version=EVENT_VERSION, symbol=symbol, seq=batch.seq,
                occurred_at=occurred_at, correlation_id=correlation_id,
                causation_id=causation, epoch=epoch,
            ).SerializeToString()
            id_prefix = f"{producer}:{batch.seq}:"
            for index, event in enumerate(batch.events):
                mapped = self._to_proto(symbol, event)
                if mapped is None:
                    continue
                topic, key, tag, body = mapped
                event_id = (id_prefix + str(index)).encode()
                envelope = b"\n" + _varint(len(event_id)) + event_id + shared
                body_bytes = body.SerializeToString()
                payload = (b"\n" + _varint(len(envelope)) + envelope
                           + tag + _varint(len(body_bytes)) + body_bytes)
                outbox = (_TOPIC_FIELDS[topic] + _string_field(b"\x12", key)
                          + b"\x1a" + _varint(len(event_id)) + event_id
                          + b'"' + _varint(len(payload)) + payload)
                append(b"\x1a" + _varint(len(outbox)) + outbox)
        if ts_ns > 0:
            append(_uint_field(b" ", ts_ns))
        elif ts_ns < 0:  # int64: negative values take ten bytes; let protobuf write them
            append(CommandEvents(ts_ns=ts_ns).SerializeToString())
        return b"".join(parts)

    def _to_proto(self, symbol: str, event: Event) -> tuple[str, str, bytes, Message] | None:
        """Topic, key, body field tag and body of the event message (no envelope: the
        envelope and the body's field header are written as bytes around it)."""
        if isinstance(event, BalanceApplied):
            return ORDER_TOPIC, event.account_id, *self._balance(event)
        grid = self.grid(symbol)
        if isinstance(event, TradeExecuted):
            return TRADE_TOPIC, symbol, _TRADE, self.trade(grid, event)
        if isinstance(event, BookDelta):
            return BOOK_TOPIC, symbol, _DELTA, events_pb2.BookDelta(
                bids=_levels(grid, event.bids), asks=_levels(grid, event.asks))
        order_event = self._order_event(grid, event)
        return None if order_event is None else (ORDER_TOPIC, symbol, *order_event)

    def _order_event(self, grid: CachedGrid, event: Event) -> tuple[bytes, Message] | None:
        symbol = grid.symbol
        if isinstance(event, OrderAccepted):
            return _ACCEPTED, events_pb2.OrderAccepted(
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
            )
        if isinstance(event, OrderRejected):
            return _REJECTED, events_pb2.OrderRejected(
                client_order_id=event.client_order_id, account_id=event.account_id,
                code=event.code, reason=event.reason,  # type: ignore[arg-type]
                order_id=format_order_id(symbol, event.order_id) if event.order_id else "",
            )
        if isinstance(event, OrderCanceled):
            return _CANCELED, events_pb2.OrderCanceled(
                order_id=format_order_id(symbol, event.order_id),
                client_order_id=event.client_order_id, account_id=event.account_id,
                reason=event.reason,  # type: ignore[arg-type]
                filled_quantity=grid.format_quantity(event.filled_lots),
                canceled_quantity=grid.format_quantity(event.canceled_lots),
                released_asset=event.released_asset,
                released_amount=grid.format_amount(event.released_asset, event.released_amount),
            )
        if isinstance(event, OrderFilled):
            return _FILLED, events_pb2.OrderFilled(
                order_id=format_order_id(symbol, event.order_id),
                client_order_id=event.client_order_id, account_id=event.account_id,
                filled_quantity=grid.format_quantity(event.filled_lots),
                released_asset=event.released_asset,
                released_amount=grid.format_amount(event.released_asset, event.released_amount),
            )
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

    def _balance(self, event: BalanceApplied) -> tuple[bytes, Message]:
        scale = self._engine.asset_scale(event.asset) or 0
        return _BALANCE_APPLIED, events_pb2.BalanceApplied(
            adjustment_id=event.adjustment_id, account_id=event.account_id, asset=event.asset,
            delta=format_asset_amount(scale, event.delta), applied=event.applied,
            code=event.code,  # type: ignore[arg-type]
        )


def level(grid: CachedGrid, lvl: Level) -> events_pb2.PriceLevel:
    price_ticks, qty_lots, count = lvl
    return events_pb2.PriceLevel(price=grid.format_price(price_ticks),
                                 quantity=grid.format_quantity(qty_lots), order_count=count)


def _levels(grid: CachedGrid, levels: tuple[Level, ...]) -> list[events_pb2.PriceLevel]:
    return [level(grid, lvl) for lvl in levels]
