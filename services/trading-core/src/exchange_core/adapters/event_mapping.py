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
from exchange_core.adapters.proto_wire import (
    bytes_field,
    head,
    put_string,
    put_uint,
    string_field,
    uint_field,
    varint,
)
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
    SymbolModeChanged,
    TradeExecuted,
    codes,
    format_asset_amount,
    format_order_id,
    format_trade_id,
)

ORDER_TOPIC: Final = str(Topic.CORE_ORDER_EVENTS)
TRADE_TOPIC: Final = str(Topic.CORE_TRADE_EVENTS)
BOOK_TOPIC: Final = str(Topic.CORE_BOOK_EVENTS)
ACCOUNT_PRODUCER: Final = "accounts"
# OutboxEvent.topic (field 1), serialized once per topic.
_ORDER_TOPIC_FIELD: Final = string_field(b"\n", ORDER_TOPIC)
_TRADE_TOPIC_FIELD: Final = string_field(b"\n", TRADE_TOPIC)
_BOOK_TOPIC_FIELD: Final = string_field(b"\n", BOOK_TOPIC)


_CACHE_MAX: Final = 50_000
_TRADES_KEPT: Final = 20_000  # trades between their event and their reply (in flight)
_NS_PER_S: Final = 1_000_000_000
_DIGITS_MAX: Final = 1_000
_DIGITS: Final = [str(n).encode() for n in range(_DIGITS_MAX)]  # an event's index
# Length-delimited field keys ((field number << 3) | 2) of the event bodies.
_ACCEPTED: Final = 0x12
_REJECTED: Final = 0x1A
_CANCELED: Final = 0x22
_FILLED: Final = 0x32
_BALANCE_APPLIED: Final = 0x3A
_TRADE: Final = 0x12  # TradeEvent.trade = 2
_DELTA: Final = 0x12  # BookEvent.delta = 2
_MODE_CHANGED: Final = 0x22  # BookEvent.mode_changed = 4
_NO_KEYS: Final = (b"", b"", b"")
_BUY: Final = codes.BUY
_EVENT_VERSION: Final = b"\x10" + varint(EVENT_VERSION)  # EventEnvelope.event_version = 2


class FieldCache:
    """Encoded fields memoized per (field key, integer value), bounded per key. A key is
    one byte here (field numbers below 16), so the per-key dicts sit in a list indexed
    by that byte; a longer key is never cached."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: list[dict[int, bytes] | None] = [None] * 256

    def get(self, tag: bytes, value: int) -> bytes | None:
        if len(tag) != 1:
            return None
        fields = self._by_key[tag[0]]
        return fields.get(value) if fields is not None else None

    def put(self, tag: bytes, value: int, field: bytes) -> bytes:
        if len(tag) == 1:
            fields = self._by_key[tag[0]]
            if fields is None:
                fields = self._by_key[tag[0]] = {}
            elif len(fields) >= _CACHE_MAX:
                fields.clear()
            fields[value] = field
        return field


class CachedGrid:
    """A market's integer -> decimal string formatting, memoized (bounded).

    Prices, quantities and amounts repeat a lot within a market, and formatting is the
    largest cost of turning events into messages on the command path. The ``*_field``
    methods also memoize the encoded field (key, length, UTF-8 text) per field key: the
    bytes ``string_field(tag, format_...(value))`` gives.
    """

    __slots__ = (
        "_amount_fields",
        "_amounts",
        "_grid",
        "_id_prefix",
        "_price_fields",
        "_prices",
        "_quantities",
        "_quantity_fields",
        "_text_fields",
        "_trades",
        "base",
        "quote",
        "symbol",
    )

    def __init__(self, grid: MarketGrid) -> None:
        self._grid = grid
        self.symbol: str = grid.symbol
        self.base: Asset = grid.base
        self.quote: Asset = grid.quote
        self._prices: dict[int, str] = {}
        self._quantities: dict[int, str] = {}
        self._amounts: dict[str, dict[int, str]] = {}
        self._price_fields = FieldCache()
        self._quantity_fields = FieldCache()
        self._amount_fields: dict[str, FieldCache] = {}
        self._id_prefix = f"{grid.symbol}:".encode()  # of the market's order ids
        # Text fields that repeat (account ids, assets), by field key (below 128).
        self._text_fields: list[dict[str, bytes] | None] = [None] * 128
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

    def order_id_field(self, key: int, order_no: int) -> bytes:
        """``string_field`` of ``format_order_id(symbol, order_no)``, built as bytes."""
        text = self._id_prefix + str(order_no).encode()
        return head(key, len(text)) + text

    def text_field(self, key: int, text: str) -> bytes:
        """``string_field`` of a text that repeats (an account id, an asset), memoized
        per field key (below 128; bounded)."""
        fields = self._text_fields[key]
        if fields is None:
            fields = self._text_fields[key] = {}
        field = fields.get(text)
        if field is None:
            if len(fields) >= _CACHE_MAX:
                fields.clear()
            data = text.encode()
            field = fields[text] = head(key, len(data)) + data if data else b""
        return field

    def price_field(self, tag: bytes, ticks: int) -> bytes:
        field = self._price_fields.get(tag, ticks)
        if field is None:
            field = self._price_fields.put(tag, ticks,
                                           string_field(tag, self.format_price(ticks)))
        return field

    def quantity_field(self, tag: bytes, lots: int) -> bytes:
        field = self._quantity_fields.get(tag, lots)
        if field is None:
            field = self._quantity_fields.put(tag, lots,
                                              string_field(tag, self.format_quantity(lots)))
        return field

    def amount_field(self, tag: bytes, asset: str, units: int) -> bytes:
        cache = self._amount_fields.get(asset)
        if cache is None:
            cache = self._amount_fields[asset] = FieldCache()
        field = cache.get(tag, units)
        if field is None:
            field = cache.put(tag, units, string_field(tag, self.format_amount(asset, units)))
        return field


class EventMapper:
    def __init__(self, engine: Engine, shard_id: str) -> None:
        self._engine = engine
        self._shard_id = shard_id
        self._grids: dict[str, CachedGrid] = {}
        self._symbol_fields: dict[str, bytes] = {}  # one per market
        self._key_fields: dict[str, bytes] = {}
        self._ts_ns = self._epoch = -1
        self._scratch: list[bytes] = []  # an event body's pieces (command_events)
        self._market_keys: dict[str, tuple[bytes, bytes, bytes]] = {}
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
            id_prefix = f"{symbol or ACCOUNT_PRODUCER}:{batch.seq}:".encode()
            # Once per batch, not per event: the market's grid and its key field.
            grid = self.grid(symbol) if symbol else None
            keys = self._topic_keys(symbol) if symbol else _NO_KEYS
            for index, event in enumerate(batch.events):
                body = self._scratch  # the body's pieces: sized first, then copied after
                body.clear()  # the headers that carry that size
                mapped = self._body(body, grid, keys, event)
                if mapped is None:
                    continue
                topic_key, tag, body_size = mapped
                # event_id "<symbol>:<seq>:<index>", written twice (OutboxEvent, envelope)
                event_id = id_prefix + (_DIGITS[index] if index < _DIGITS_MAX
                                        else str(index).encode())
                id_len = len(event_id)
                id_head = head(26, id_len)  # OutboxEvent.event_id = 3
                envelope_id_head = head(10, id_len)  # EventEnvelope.event_id = 1
                body_head = head(tag, body_size)
                envelope = len(envelope_id_head) + id_len + shared_len
                envelope_head = head(10, envelope)  # the event's envelope = 1
                payload = len(envelope_head) + envelope + len(body_head) + body_size
                payload_head = head(34, payload)  # OutboxEvent.payload = 4
                outbox = len(topic_key) + len(id_head) + id_len + len(payload_head) + payload
                parts.append(head(26, outbox))  # CommandEvents.events = 3
                parts.append(topic_key)  # OutboxEvent.topic = 1, key = 2
                parts.append(id_head)
                parts.append(event_id)
                parts.append(payload_head)
                parts.append(envelope_head)
                parts.append(envelope_id_head)
                parts.append(event_id)
                parts.append(shared)
                parts.append(body_head)
                parts.extend(body)
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

    def _body(self, p: list[bytes], grid: CachedGrid | None, keys: tuple[bytes, bytes, bytes],
              event: Event) -> tuple[bytes, int, int] | None:
        """The event message's topic + key fields and its body's field key; the body is
        written to ``p`` (returns its size). ``grid`` and ``keys`` are the batch's market
        and its (order, trade, book) topic + key fields (None / empty for the
        account-level batch)."""
        if type(event) is BalanceApplied:
            return (_ORDER_TOPIC_FIELD + self._key_field(event.account_id), _BALANCE_APPLIED,
                    _put(p, self._balance_bytes(event)))
        if grid is None:
            raise KeyError(f"a market event without a market: {type(event).__name__}")
        if type(event) is TradeExecuted:
            return keys[1], _TRADE, _put(p, grid.event_trade_body(event))
        if type(event) is BookDelta:
            return keys[2], _DELTA, _delta(p, grid, event)
        # Direct calls (compiled: no dispatch through a table of function objects).
        if type(event) is OrderAccepted:
            return keys[0], _ACCEPTED, _accepted(p, grid, event)
        if type(event) is OrderFilled:
            return keys[0], _FILLED, _filled(p, grid, event)
        if type(event) is OrderCanceled:
            return keys[0], _CANCELED, _canceled(p, grid, event)
        if type(event) is OrderRejected:
            return keys[0], _REJECTED, _rejected(p, grid, event)
        if type(event) is SymbolModeChanged:  # market status, with the book's stream
            return keys[2], _MODE_CHANGED, _put(
                p, uint_field(b"\x08", event.mode) + uint_field(b"\x10", event.previous_mode))
        return None

    def _topic_keys(self, symbol: str) -> tuple[bytes, bytes, bytes]:
        """A market's (order, trade, book) topic field + key field, each one piece."""
        keys = self._market_keys.get(symbol)
        if keys is None:
            key = self._key_field(symbol)
            keys = self._market_keys[symbol] = (
                _ORDER_TOPIC_FIELD + key, _TRADE_TOPIC_FIELD + key, _BOOK_TOPIC_FIELD + key)
        return keys

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


def _accepted(p: list[bytes], grid: CachedGrid, e: OrderAccepted) -> int:
    """The body's pieces appended to ``p``; returns their size."""
    n = 0
    n += _put(p, grid.order_id_field(10, e.order_id))
    n += put_string(p, 18, e.client_order_id)
    n += _put(p, grid.text_field(26, e.account_id))
    n += put_uint(p, 32, e.side)
    n += put_uint(p, 40, e.order_type)
    n += put_uint(p, 48, e.time_in_force)
    if e.price_ticks:
        n += _put(p, grid.price_field(b":", e.price_ticks))
    n += _put(p, grid.quantity_field(b"B", e.qty_lots))
    if e.quote_budget:
        n += _put(p, grid.amount_field(b"J", grid.quote, e.quote_budget))
    if e.post_only:
        p.append(b"P\x01")
        n += 2
    n += put_uint(p, 88, e.stp)
    n += _put(p, grid.text_field(98, e.reserved_asset))
    n += _put(p, grid.amount_field(b"j", e.reserved_asset, e.reserved_amount))
    if e.protection_ticks:
        n += _put(p, grid.price_field(b"r", e.protection_ticks))
    return n


def _rejected(p: list[bytes], grid: CachedGrid, e: OrderRejected) -> int:
    """The body's pieces appended to ``p``; returns their size."""
    n = 0
    n += put_string(p, 10, e.client_order_id)
    n += _put(p, grid.text_field(18, e.account_id))
    n += put_uint(p, 24, e.code)
    n += put_string(p, 34, e.reason)
    if e.order_id:
        n += _put(p, grid.order_id_field(42, e.order_id))
    return n


def _canceled(p: list[bytes], grid: CachedGrid, e: OrderCanceled) -> int:
    """The body's pieces appended to ``p``; returns their size."""
    n = 0
    n += _put(p, grid.order_id_field(10, e.order_id))
    n += put_string(p, 18, e.client_order_id)
    n += _put(p, grid.text_field(26, e.account_id))
    n += put_uint(p, 32, e.reason)
    n += _put(p, grid.quantity_field(b"*", e.filled_lots))
    n += _put(p, grid.quantity_field(b"2", e.canceled_lots))
    n += _put(p, grid.text_field(58, e.released_asset))
    n += _put(p, grid.amount_field(b"B", e.released_asset, e.released_amount))
    return n


def _filled(p: list[bytes], grid: CachedGrid, e: OrderFilled) -> int:
    """The body's pieces appended to ``p``; returns their size."""
    n = 0
    n += _put(p, grid.order_id_field(10, e.order_id))
    n += put_string(p, 18, e.client_order_id)
    n += _put(p, grid.text_field(26, e.account_id))
    n += _put(p, grid.quantity_field(b'"', e.filled_lots))
    n += _put(p, grid.text_field(42, e.released_asset))
    n += _put(p, grid.amount_field(b"2", e.released_asset, e.released_amount))
    return n


def trade_body(grid: CachedGrid, t: TradeExecuted) -> bytes:
    """A serialized exchange.v1.TradeExecuted (the event body; also a reply's trades:
    a trade whose event was just encoded is not encoded twice)."""
    return grid.reply_trade_body(t)


def _trade_bytes(grid: CachedGrid, t: TradeExecuted) -> bytes:
    symbol, quote = grid.symbol, grid.quote
    p: list[bytes] = []
    put_string(p, 10, format_trade_id(symbol, t.trade_id))
    p.append(grid.text_field(18, grid.base))
    p.append(grid.text_field(26, quote))
    p.append(grid.price_field(b'"', t.price_ticks))
    p.append(grid.quantity_field(b"*", t.qty_lots))
    p.append(grid.amount_field(b"2", quote, t.quote_amount))
    put_uint(p, 56, t.taker_side)
    p.append(grid.order_id_field(66, t.maker_order_id))
    p.append(grid.order_id_field(74, t.taker_order_id))
    p.append(grid.text_field(82, t.maker_account_id))
    p.append(grid.text_field(90, t.taker_account_id))
    p.append(grid.amount_field(b"b", quote, t.buyer_fee))
    p.append(grid.amount_field(b"j", quote, t.seller_fee))
    p.append(grid.amount_field(b"r", quote, t.buyer_refund))
    put_string(p, 122, t.maker_client_order_id)
    put_string(p, 130, t.taker_client_order_id)
    return b"".join(p)


def _put(p: list[bytes], piece: bytes) -> int:
    p.append(piece)
    return len(piece)


def _delta(p: list[bytes], grid: CachedGrid, delta: BookDelta) -> int:
    """The BookDelta body's pieces appended to ``p``; returns their size."""
    side = delta.level_side
    if side:  # one level, kept as ints (events.BookDelta)
        return _level(p, grid, b"\n" if side == _BUY else b"\x12", delta.price, delta.qty,
                      delta.count)
    n = 0
    for tag, levels in ((b"\n", delta.many_bids), (b"\x12", delta.many_asks)):
        for price_ticks, qty_lots, count in levels:
            n += _level(p, grid, tag, price_ticks, qty_lots, count)
    return n


def _level(p: list[bytes], grid: CachedGrid, tag: bytes, price_ticks: int,  # noqa: PLR0917
           qty_lots: int, count: int) -> int:
    """One level (field ``tag``: bids or asks) appended to ``p``; returns its size."""
    price = grid.price_field(b"\n", price_ticks)
    quantity = grid.quantity_field(b"\x12", qty_lots)
    p.append(tag)
    size_at = len(p)
    p.append(b"")  # the level's length, known once the level is written
    p.append(price)
    p.append(quantity)
    size = len(price) + len(quantity) + put_uint(p, 24, count)
    size_field = varint(size)
    p[size_at] = size_field
    return 1 + len(size_field) + size
