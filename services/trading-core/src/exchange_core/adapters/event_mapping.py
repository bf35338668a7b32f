"""Domain events -> contract events (exchange.v1 OrderEvent / TradeEvent / BookEvent).

Each event gets the envelope with a deterministic event_id made of (symbol, symbol seq,
index of the event in its batch), so a re-published event carries the same id. Integers
become canonical decimal strings with the market's grid.
"""

from collections.abc import Callable
from typing import Any

from exchange.v1 import events_pb2
from exchange_common.envelope import EVENT_VERSION
from exchange_common.ids import Asset, Symbol
from exchange_common.topics import Topic
from exchange_core.adapters.proto_wire import bytes_field, string_field, uint_field, varint
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
# Length-delimited field keys ((field number << 3) | 2) of the event bodies.
_ACCEPTED, _REJECTED, _CANCELED, _FILLED, _BALANCE_APPLIED = b"\x12", b"\x1a", b'"', b"2", b":"
_TRADE = _DELTA = b"\x12"  # TradeEvent.trade = 2, BookEvent.delta = 2
_EVENT_VERSION = b"\x10" + varint(EVENT_VERSION)  # EventEnvelope.event_version = 2


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
        """The serialized ``wal.v1.CommandEvents`` of a command, written as bytes.

        Byte-identical to building the messages (``CommandEvents(events=[OutboxEvent(
        payload=OrderEvent(envelope=..., accepted=...).SerializeToString())])``) and
        serializing (the tests compare both), because protobuf writes fields in number
        order and omits proto3 defaults: ``event_id`` is field 1 of the envelope, the
        envelope field 1 of every event, ``events`` field 3 of CommandEvents. The envelope's
        shared part is written once per batch; no message object is built.
        """
        seconds, nanos = divmod(ts_ns, _NS_PER_S)
        # EventEnvelope fields 5..8 (after symbol and seq): the same for the whole command.
        timestamp = uint_field(b"\x08", seconds) + uint_field(b"\x10", nanos)
        tail = (bytes_field(b"*", timestamp) + string_field(b"2", correlation_id)
                + string_field(b":", f"{self._shard_id}:{wal_seq}") + uint_field(b"@", epoch))
        parts = [uint_field(b"\x08", wal_seq) + uint_field(b"\x10", epoch)]
        append = parts.append
        for batch in result.batches():
            symbol = batch.symbol
            shared = (_EVENT_VERSION + string_field(b"\x1a", symbol)
                      + uint_field(b" ", batch.seq) + tail)
            id_prefix = f"{symbol or ACCOUNT_PRODUCER}:{batch.seq}:"
            for index, event in enumerate(batch.events):
                mapped = self._body(symbol, event)
                if mapped is None:
                    continue
                topic, key, tag, body = mapped
                event_id = (id_prefix + str(index)).encode()
                id_field = b"\n" + varint(len(event_id)) + event_id
                envelope = id_field + shared
                payload = (b"\n" + varint(len(envelope)) + envelope
                           + tag + varint(len(body)) + body)
                outbox = (_TOPIC_FIELDS[topic] + string_field(b"\x12", key)
                          + b"\x1a" + id_field[1:] + b'"' + varint(len(payload)) + payload)
                append(b"\x1a" + varint(len(outbox)) + outbox)
        append(uint_field(b" ", ts_ns))  # CommandEvents.ts_ns = 4 (int64)
        return b"".join(parts)

    def _body(self, symbol: str, event: Event) -> tuple[str, str, bytes, bytes] | None:
        """Topic, key, body field tag and serialized body of the event message (the
        envelope and the body's field header are written around it)."""
        if type(event) is BalanceApplied:
            return ORDER_TOPIC, event.account_id, _BALANCE_APPLIED, self._balance_bytes(event)
        grid = self.grid(symbol)
        if type(event) is TradeExecuted:
            return TRADE_TOPIC, symbol, _TRADE, _trade_bytes(grid, event)
        if type(event) is BookDelta:
            return BOOK_TOPIC, symbol, _DELTA, _delta_bytes(grid, event)
        encode = _ORDER_BODIES.get(type(event))
        if encode is None:
            return None  # SymbolModeChanged: domain-only, no contract message yet
        tag, body = encode(grid, event)
        return ORDER_TOPIC, symbol, tag, body

    def _balance_bytes(self, e: BalanceApplied) -> bytes:
        scale = self._engine.asset_scale(e.asset) or 0
        return b"".join((
            string_field(b"\n", e.adjustment_id), string_field(b"\x12", e.account_id),
            string_field(b"\x1a", e.asset),
            string_field(b'"', format_asset_amount(scale, e.delta)),
            uint_field(b"(", int(e.applied)), uint_field(b"0", e.code),
        ))

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


def level(grid: CachedGrid, lvl: Level) -> events_pb2.PriceLevel:
    price_ticks, qty_lots, count = lvl
    return events_pb2.PriceLevel(price=grid.format_price(price_ticks),
                                 quantity=grid.format_quantity(qty_lots), order_count=count)


def _accepted(grid: CachedGrid, e: OrderAccepted) -> tuple[bytes, bytes]:
    return _ACCEPTED, b"".join((
        string_field(b"\n", format_order_id(grid.symbol, e.order_id)),
        string_field(b"\x12", e.client_order_id), string_field(b"\x1a", e.account_id),
        uint_field(b" ", e.side), uint_field(b"(", e.order_type),
        uint_field(b"0", e.time_in_force),
        string_field(b":", grid.format_price(e.price_ticks)) if e.price_ticks else b"",
        string_field(b"B", grid.format_quantity(e.qty_lots)),
        string_field(b"J", grid.format_amount(grid.quote, e.quote_budget))
        if e.quote_budget else b"",
        b"P\x01" if e.post_only else b"", uint_field(b"X", e.stp),
        string_field(b"b", e.reserved_asset),
        string_field(b"j", grid.format_amount(e.reserved_asset, e.reserved_amount)),
        string_field(b"r", grid.format_price(e.protection_ticks))
        if e.protection_ticks else b"",
    ))


def _rejected(grid: CachedGrid, e: OrderRejected) -> tuple[bytes, bytes]:
    return _REJECTED, b"".join((
        string_field(b"\n", e.client_order_id), string_field(b"\x12", e.account_id),
        uint_field(b"\x18", e.code), string_field(b'"', e.reason),
        string_field(b"*", format_order_id(grid.symbol, e.order_id)) if e.order_id else b"",
    ))


def _canceled(grid: CachedGrid, e: OrderCanceled) -> tuple[bytes, bytes]:
    return _CANCELED, b"".join((
        string_field(b"\n", format_order_id(grid.symbol, e.order_id)),
        string_field(b"\x12", e.client_order_id), string_field(b"\x1a", e.account_id),
        uint_field(b" ", e.reason),
        string_field(b"*", grid.format_quantity(e.filled_lots)),
        string_field(b"2", grid.format_quantity(e.canceled_lots)),
        string_field(b":", e.released_asset),
        string_field(b"B", grid.format_amount(e.released_asset, e.released_amount)),
    ))


def _filled(grid: CachedGrid, e: OrderFilled) -> tuple[bytes, bytes]:
    return _FILLED, b"".join((
        string_field(b"\n", format_order_id(grid.symbol, e.order_id)),
        string_field(b"\x12", e.client_order_id), string_field(b"\x1a", e.account_id),
        string_field(b'"', grid.format_quantity(e.filled_lots)),
        string_field(b"*", e.released_asset),
        string_field(b"2", grid.format_amount(e.released_asset, e.released_amount)),
    ))


_ORDER_BODIES: dict[type, Callable[[CachedGrid, Any], tuple[bytes, bytes]]] = {
    OrderAccepted: _accepted, OrderRejected: _rejected, OrderCanceled: _canceled,
    OrderFilled: _filled,
}


def trade_body(grid: CachedGrid, t: TradeExecuted) -> bytes:
    """A serialized exchange.v1.TradeExecuted (the event body; also a reply's trades)."""
    return _trade_bytes(grid, t)


def _trade_bytes(grid: CachedGrid, t: TradeExecuted) -> bytes:
    symbol, quote = grid.symbol, grid.quote
    return b"".join((
        string_field(b"\n", format_trade_id(symbol, t.trade_id)), string_field(b"\x12", grid.base),
        string_field(b"\x1a", quote), string_field(b'"', grid.format_price(t.price_ticks)),
        string_field(b"*", grid.format_quantity(t.qty_lots)),
        string_field(b"2", grid.format_amount(quote, t.quote_amount)),
        uint_field(b"8", t.taker_side),
        string_field(b"B", format_order_id(symbol, t.maker_order_id)),
        string_field(b"J", format_order_id(symbol, t.taker_order_id)),
        string_field(b"R", t.maker_account_id), string_field(b"Z", t.taker_account_id),
        string_field(b"b", grid.format_amount(quote, t.buyer_fee)),
        string_field(b"j", grid.format_amount(quote, t.seller_fee)),
        string_field(b"r", grid.format_amount(quote, t.buyer_refund)),
        string_field(b"z", t.maker_client_order_id),
        string_field(b"\x82\x01", t.taker_client_order_id),
    ))


def _delta_bytes(grid: CachedGrid, delta: BookDelta) -> bytes:
    parts = []
    for tag, levels in ((b"\n", delta.bids), (b"\x12", delta.asks)):
        for price_ticks, qty_lots, count in levels:
            body = (string_field(b"\n", grid.format_price(price_ticks))
                    + string_field(b"\x12", grid.format_quantity(qty_lots))
                    + uint_field(b"\x18", count))
            parts.append(tag + varint(len(body)) + body)
    return b"".join(parts)
