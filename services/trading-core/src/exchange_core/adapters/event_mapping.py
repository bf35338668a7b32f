"""Domain events -> contract events (exchange.v1 OrderEvent / TradeEvent / BookEvent).

Each event gets the envelope with a deterministic event_id made of (symbol, symbol seq,
index of the event in its batch), so a re-published event carries the same id. Integers
become canonical decimal strings with the market's grid.
"""

from typing import Final

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

ORDER_TOPIC: Final = str(Topic.CORE_ORDER_EVENTS)
TRADE_TOPIC: Final = str(Topic.CORE_TRADE_EVENTS)
BOOK_TOPIC: Final = str(Topic.CORE_BOOK_EVENTS)
ACCOUNT_PRODUCER: Final = "accounts"
# OutboxEvent.topic (field 1), serialized once per topic.
_TOPIC_FIELDS: Final = {t: b"\n" + bytes((len(t),)) + t.encode()
                 for t in (ORDER_TOPIC, TRADE_TOPIC, BOOK_TOPIC)}


_CACHE_MAX: Final = 50_000
_TRADES_KEPT: Final = 20_000  # trades between their event and their reply (in flight)
_NS_PER_S: Final = 1_000_000_000
# Length-delimited field keys ((field number << 3) | 2) of the event bodies.
_ACCEPTED: Final = b"\x12"
_REJECTED: Final = b"\x1a"
_CANCELED: Final = b'"'
_FILLED: Final = b"2"
_BALANCE_APPLIED: Final = b":"
_TRADE: Final = b"\x12"  # TradeEvent.trade = 2
_DELTA: Final = b"\x12"  # BookEvent.delta = 2
_EVENT_VERSION: Final = b"\x10" + varint(EVENT_VERSION)  # EventEnvelope.event_version = 2


class CachedGrid:
    """A market's integer -> decimal string formatting, memoized (bounded).

    Prices, quantities and amounts repeat a lot within a market, and formatting is the
    largest cost of turning events into messages on the command path. The ``*_field``
    methods also memoize the encoded field (key, length, UTF-8 text) per field key: the
    bytes ``string_field(tag, format_...(value))`` gives.
    """

    __slots__ = ("_amount_fields", "_amounts", "_grid", "_price_fields", "_prices",
                 "_quantities", "_quantity_fields", "_trades", "base", "quote", "symbol")

    def __init__(self, grid: MarketGrid) -> None:
        self._grid = grid
        self.symbol: str = grid.symbol
        self.base: Asset = grid.base
        self.quote: Asset = grid.quote
        self._prices: dict[int, str] = {}
        self._quantities: dict[int, str] = {}
        self._amounts: dict[str, dict[int, str]] = {}
        self._price_fields: dict[bytes, dict[int, bytes]] = {}
        self._quantity_fields: dict[bytes, dict[int, bytes]] = {}
        self._amount_fields: dict[str, dict[bytes, dict[int, bytes]]] = {}
        # Trades encoded for their event, kept for the taker's reply (keyed by identity;
        # the entry holds the trade, so the id is not reused while it is kept).
        self._trades: dict[int, tuple[TradeExecuted, bytes]] = {}

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
        amounts = self._amounts.get(asset)
        if amounts is None:
            amounts = self._amounts[asset] = {}
        text = amounts.get(units)
        if text is None:
            if len(amounts) >= _CACHE_MAX:
                amounts.clear()
            text = amounts[units] = self._grid.format_amount(Asset(asset), units)
        return text

    def event_trade_body(self, t: TradeExecuted) -> bytes:
        """The trade's serialized TradeExecuted, kept for ``reply_trade_body`` (bounded)."""
        body = _trade_bytes(self, t)
        if len(self._trades) >= _TRADES_KEPT:
            self._trades.clear()  # their replies encode them again: same bytes
        self._trades[id(t)] = (t, body)
        return body

    def reply_trade_body(self, t: TradeExecuted) -> bytes:
        """The same bytes, from the event's encoding when it is still kept."""
        kept = self._trades.pop(id(t), None)
        if kept is not None and kept[0] is t:
            return kept[1]
        return _trade_bytes(self, t)

    def price_field(self, tag: bytes, ticks: int) -> bytes:
        fields = self._price_fields.get(tag)
        if fields is None:
            fields = self._price_fields[tag] = {}
        field = fields.get(ticks)
        if field is None:
            if len(fields) >= _CACHE_MAX:
                fields.clear()
            field = fields[ticks] = string_field(tag, self.format_price(ticks))
        return field

    def quantity_field(self, tag: bytes, lots: int) -> bytes:
        fields = self._quantity_fields.get(tag)
        if fields is None:
            fields = self._quantity_fields[tag] = {}
        field = fields.get(lots)
        if field is None:
            if len(fields) >= _CACHE_MAX:
                fields.clear()
            field = fields[lots] = string_field(tag, self.format_quantity(lots))
        return field

    def amount_field(self, tag: bytes, asset: str, units: int) -> bytes:
        by_tag = self._amount_fields.get(asset)
        if by_tag is None:
            by_tag = self._amount_fields[asset] = {}
        fields = by_tag.get(tag)
        if fields is None:
            fields = by_tag[tag] = {}
        field = fields.get(units)
        if field is None:
            if len(fields) >= _CACHE_MAX:
                fields.clear()
            field = fields[units] = string_field(tag, self.format_amount(asset, units))
        return field


class EventMapper:
    def __init__(self, engine: Engine, shard_id: str) -> None:
        self._engine = engine
        self._shard_id = shard_id
        self._grids: dict[str, CachedGrid] = {}
        self._symbol_fields: dict[str, bytes] = {}  # one per market
        self._key_fields: dict[str, bytes] = {}
        self._ts_ns = self._epoch = -1
        self._timestamp_field = self._epoch_tail = self._epoch_field = self._ts_field = b""

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
        envelope field 1 of every event, ``events`` field 3 of CommandEvents.

        One pass: every piece (field keys, lengths, bodies) goes into one list, joined
        once; lengths are computed from the pieces, so no nested message is built and
        copied into its parent. The parts that depend on the time and epoch only are
        kept from the previous call (a batch's commands share them).
        """
        if ts_ns != self._ts_ns or epoch != self._epoch:
            self._set_time(ts_ns, epoch)
        causation = f"{self._shard_id}:{wal_seq}".encode()
        # EventEnvelope fields 5..8 (after symbol and seq): the same for the whole command.
        tail = b"".join((self._timestamp_field, string_field(b"2", correlation_id), b":",
                         varint(len(causation)), causation, self._epoch_tail))
        parts = [uint_field(b"\x08", wal_seq), self._epoch_field]
        for batch in result.batches():
            symbol = batch.symbol
            shared = self._symbol_field(symbol) + uint_field(b" ", batch.seq) + tail
            shared_len = len(shared)
            id_prefix = f"{symbol or ACCOUNT_PRODUCER}:{batch.seq}:"
            for index, event in enumerate(batch.events):
                mapped = self._body(symbol, event)
                if mapped is None:
                    continue
                topic, key, tag, body = mapped
                event_id = (id_prefix + str(index)).encode()
                id_lp = varint(len(event_id)) + event_id  # length-prefixed event_id
                body_len = varint(len(body))
                envelope = 1 + len(id_lp) + shared_len
                envelope_len = varint(envelope)
                payload = 1 + len(envelope_len) + envelope + len(tag) + len(body_len) + len(body)
                payload_len = varint(payload)
                topic_field = _TOPIC_FIELDS[topic]
                key_field = self._key_field(key)
                outbox = (len(topic_field) + len(key_field) + 2 + len(id_lp)
                          + len(payload_len) + payload)
                parts.extend((
                    b"\x1a", varint(outbox),  # CommandEvents.events = 3
                    topic_field, key_field, b"\x1a", id_lp,  # OutboxEvent 1, 2, 3
                    b'"', payload_len, b"\n", envelope_len,  # payload = 4; envelope = 1
                    b"\n", id_lp, shared, tag, body_len, body,
                ))
        parts.append(self._ts_field)  # CommandEvents.ts_ns = 4 (int64)
        return b"".join(parts)

    def _set_time(self, ts_ns: int, epoch: int) -> None:
        seconds, nanos = divmod(ts_ns, _NS_PER_S)
        timestamp = uint_field(b"\x08", seconds) + uint_field(b"\x10", nanos)
        self._ts_ns, self._epoch = ts_ns, epoch
        self._timestamp_field = bytes_field(b"*", timestamp)  # EventEnvelope.occurred_at = 5
        self._epoch_tail = uint_field(b"@", epoch)  # EventEnvelope.epoch = 8
        self._epoch_field = uint_field(b"\x10", epoch)  # CommandEvents.epoch = 2
        self._ts_field = uint_field(b" ", ts_ns)

    def _symbol_field(self, symbol: str) -> bytes:
        """EventEnvelope fields 2 (event_version) and 3 (symbol)."""
        field = self._symbol_fields.get(symbol)
        if field is None:
            field = self._symbol_fields[symbol] = _EVENT_VERSION + string_field(b"\x1a", symbol)
        return field

    def _key_field(self, key: str) -> bytes:
        """OutboxEvent.key = 2 (a symbol or an account id: few distinct ones; bounded)."""
        field = self._key_fields.get(key)
        if field is None:
            if len(self._key_fields) >= _CACHE_MAX:
                self._key_fields.clear()
            field = self._key_fields[key] = string_field(b"\x12", key)
        return field

    def _body(self, symbol: str, event: Event) -> tuple[str, str, bytes, bytes] | None:
        """Topic, key, body field tag and serialized body of the event message (the
        envelope and the body's field header are written around it)."""
        if type(event) is BalanceApplied:
            return ORDER_TOPIC, event.account_id, _BALANCE_APPLIED, self._balance_bytes(event)
        grid = self.grid(symbol)
        if type(event) is TradeExecuted:
            return TRADE_TOPIC, symbol, _TRADE, grid.event_trade_body(event)
        if type(event) is BookDelta:
            return BOOK_TOPIC, symbol, _DELTA, _delta_bytes(grid, event)
        # Direct calls (compiled: no dispatch through a table of function objects).
        if type(event) is OrderAccepted:
            tag, body = _accepted(grid, event)
        elif type(event) is OrderFilled:
            tag, body = _filled(grid, event)
        elif type(event) is OrderCanceled:
            tag, body = _canceled(grid, event)
        elif type(event) is OrderRejected:
            tag, body = _rejected(grid, event)
        else:
            return None  # SymbolModeChanged: domain-only, no contract message yet
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
        grid.price_field(b":", e.price_ticks) if e.price_ticks else b"",
        grid.quantity_field(b"B", e.qty_lots),
        grid.amount_field(b"J", grid.quote, e.quote_budget)
        if e.quote_budget else b"",
        b"P\x01" if e.post_only else b"", uint_field(b"X", e.stp),
        string_field(b"b", e.reserved_asset),
        grid.amount_field(b"j", e.reserved_asset, e.reserved_amount),
        grid.price_field(b"r", e.protection_ticks)
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
        grid.quantity_field(b"*", e.filled_lots),
        grid.quantity_field(b"2", e.canceled_lots),
        string_field(b":", e.released_asset),
        grid.amount_field(b"B", e.released_asset, e.released_amount),
    ))


def _filled(grid: CachedGrid, e: OrderFilled) -> tuple[bytes, bytes]:
    return _FILLED, b"".join((
        string_field(b"\n", format_order_id(grid.symbol, e.order_id)),
        string_field(b"\x12", e.client_order_id), string_field(b"\x1a", e.account_id),
        grid.quantity_field(b'"', e.filled_lots),
        string_field(b"*", e.released_asset),
        grid.amount_field(b"2", e.released_asset, e.released_amount),
    ))


def trade_body(grid: CachedGrid, t: TradeExecuted) -> bytes:
    """A serialized exchange.v1.TradeExecuted (the event body; also a reply's trades:
    a trade whose event was just encoded is not encoded twice)."""
    return grid.reply_trade_body(t)


def _trade_bytes(grid: CachedGrid, t: TradeExecuted) -> bytes:
    symbol, quote = grid.symbol, grid.quote
    return b"".join((
        string_field(b"\n", format_trade_id(symbol, t.trade_id)), string_field(b"\x12", grid.base),
        string_field(b"\x1a", quote), grid.price_field(b'"', t.price_ticks),
        grid.quantity_field(b"*", t.qty_lots),
        grid.amount_field(b"2", quote, t.quote_amount),
        uint_field(b"8", t.taker_side),
        string_field(b"B", format_order_id(symbol, t.maker_order_id)),
        string_field(b"J", format_order_id(symbol, t.taker_order_id)),
        string_field(b"R", t.maker_account_id), string_field(b"Z", t.taker_account_id),
        grid.amount_field(b"b", quote, t.buyer_fee),
        grid.amount_field(b"j", quote, t.seller_fee),
        grid.amount_field(b"r", quote, t.buyer_refund),
        string_field(b"z", t.maker_client_order_id),
        string_field(b"\x82\x01", t.taker_client_order_id),
    ))


def _delta_bytes(grid: CachedGrid, delta: BookDelta) -> bytes:
    parts = []
    for tag, levels in ((b"\n", delta.bids), (b"\x12", delta.asks)):
        for price_ticks, qty_lots, count in levels:
            body = (grid.price_field(b"\n", price_ticks)
                    + grid.quantity_field(b"\x12", qty_lots)
                    + uint_field(b"\x18", count))
            parts.append(tag + varint(len(body)) + body)
    return b"".join(parts)
