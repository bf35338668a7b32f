"""Command events are written as bytes: they must be exactly what the messages give."""

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2, events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.domain import (
    BalanceAdjust,
    CancelOrder,
    Engine,
    PlaceOrder,
    Result,
    SetSymbolMode,
    codes,
    format_order_id,
)

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}
TS_NS = 1_764_000_000_123_456_789


def _results() -> list[Result]:
    engine = Engine(parse_markets(MARKETS))
    out = [engine.apply(BalanceAdjust("d1", AccountId("alice"), Asset("USDT"), 10**12)),
           engine.apply(BalanceAdjust("d2", AccountId("bob"), Asset("BTC"), 10**9))]
    for account, side, price, qty in (("bob", common_pb2.SIDE_SELL, "100.00", "0.5"),
                                      ("bob", common_pb2.SIDE_SELL, "101.00", "0.5"),
                                      ("alice", common_pb2.SIDE_BUY, "101.00", "0.8"),
                                      ("alice", common_pb2.SIDE_BUY, "1.005", "1")):
        req = pb.PlaceOrderRequest(symbol="BTC-USDT", account_id=account, side=side,
                                   order_type=common_pb2.ORDER_TYPE_LIMIT,
                                   time_in_force=common_pb2.TIME_IN_FORCE_GTC,
                                   price=price, quantity=qty, client_order_id=f"c-{price}")
        mapped = command_mapping.place_order(engine, req, TS_NS)
        if not isinstance(mapped, command_mapping.Unsequenced):
            out.append(engine.apply(mapped))
    return out


def test_command_events_bytes_are_the_canonical_serialization_of_their_messages() -> None:
    mapper = EventMapper(Engine(parse_markets(MARKETS)), "core-0")
    seen_topics: set[str] = set()
    for seq, result in enumerate(_results(), start=1):
        data = mapper.command_events(result, wal_seq=seq, ts_ns=TS_NS, epoch=7,
                                     correlation_id="corr")
        parsed = wal_pb2.CommandEvents.FromString(data)
        assert parsed.SerializeToString() == data
        assert (parsed.seq, parsed.epoch, parsed.ts_ns) == (seq, 7, TS_NS)
        assert parsed.events
        for event in parsed.events:
            seen_topics.add(event.topic)
            message: events_pb2.TradeEvent | events_pb2.BookEvent | events_pb2.OrderEvent
            if event.topic == "core.trade-events.v1":
                message = events_pb2.TradeEvent.FromString(event.payload)
            elif event.topic == "core.book-events.v1":
                message = events_pb2.BookEvent.FromString(event.payload)
            else:
                message = events_pb2.OrderEvent.FromString(event.payload)
            assert message.SerializeToString() == event.payload
            envelope = message.envelope
            assert envelope.event_id == event.event_id
            producer = envelope.symbol or "accounts"
            assert envelope.event_id.startswith(f"{producer}:{envelope.seq}:")
            assert envelope.causation_id == f"core-0:{seq}"
            assert envelope.correlation_id == "corr" and envelope.epoch == 7
            assert envelope.event_version == 1
            assert (envelope.occurred_at.seconds * 10**9 + envelope.occurred_at.nanos
                    == TS_NS)
    assert {"core.trade-events.v1", "core.book-events.v1",
            "core.order-events.v1"} <= seen_topics


def test_a_trade_event_carries_its_decimal_fields() -> None:
    mapper = EventMapper(Engine(parse_markets(MARKETS)), "core-0")
    trade_result = _results()[4]  # alice buys 0.8 through two asks
    parsed = wal_pb2.CommandEvents.FromString(
        mapper.command_events(trade_result, wal_seq=5, ts_ns=TS_NS, epoch=1))
    trades = [events_pb2.TradeEvent.FromString(e.payload).trade for e in parsed.events
              if e.topic == "core.trade-events.v1"]
    assert [(t.price, t.quantity) for t in trades] == [("100", "0.5"), ("101", "0.3")]
    assert {t.maker_account_id for t in trades} == {"bob"}


def _reference(mapper: EventMapper, result: Result, seq: int) -> bytes:
    """The same CommandEvents built from message classes (the slow, obvious way)."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from exchange.v1.envelope_pb2 import EventEnvelope
    from exchange_core.domain import (
        BalanceApplied,
        BookDelta,
        OrderAccepted,
        OrderCanceled,
        OrderFilled,
        OrderRejected,
        SymbolModeChanged,
        TradeExecuted,
    )

    pb_e = events_pb2
    out = wal_pb2.CommandEvents(seq=seq, epoch=7, ts_ns=TS_NS)
    for batch in result.batches():
        grid = mapper.grid(batch.symbol) if batch.symbol else None
        for index, e in enumerate(batch.events):
            envelope = EventEnvelope(
                event_id=f"{batch.symbol or 'accounts'}:{batch.seq}:{index}", event_version=1,
                symbol=batch.symbol, seq=batch.seq, correlation_id="corr",
                causation_id=f"core-0:{seq}", epoch=7,
                occurred_at=Timestamp(seconds=TS_NS // 10**9, nanos=TS_NS % 10**9))
            fq = grid.format_quantity if grid else str
            fa = grid.format_amount if grid else (lambda a, v: str(v))
            symbol = batch.symbol

            def oid(n: int, symbol: str = symbol) -> str:
                return f"{symbol}:{n}"

            message: events_pb2.OrderEvent | events_pb2.TradeEvent | events_pb2.BookEvent
            topic, key = "core.order-events.v1", str(batch.symbol)
            if isinstance(e, OrderAccepted):
                assert grid is not None
                message = events_pb2.OrderEvent(envelope=envelope, accepted=pb_e.OrderAccepted(
                    order_id=oid(e.order_id), client_order_id=e.client_order_id,
                    account_id=e.account_id, side=e.side, order_type=e.order_type,  # type: ignore[arg-type]
                    time_in_force=e.time_in_force, price=grid.format_price(e.price_ticks),  # type: ignore[arg-type]
                    quantity=fq(e.qty_lots), post_only=e.post_only,
                    self_trade_prevention=e.stp, reserved_asset=e.reserved_asset,  # type: ignore[arg-type]
                    reserved_amount=fa(e.reserved_asset, e.reserved_amount)))
            elif isinstance(e, OrderRejected):
                message = events_pb2.OrderEvent(envelope=envelope, rejected=pb_e.OrderRejected(
                    client_order_id=e.client_order_id, account_id=e.account_id, code=e.code,  # type: ignore[arg-type]
                    reason=e.reason, order_id=oid(e.order_id) if e.order_id else ""))
            elif isinstance(e, OrderCanceled):
                message = events_pb2.OrderEvent(envelope=envelope, canceled=pb_e.OrderCanceled(
                    order_id=oid(e.order_id), client_order_id=e.client_order_id,
                    account_id=e.account_id, reason=e.reason, filled_quantity=fq(e.filled_lots),  # type: ignore[arg-type]
                    canceled_quantity=fq(e.canceled_lots), released_asset=e.released_asset,
                    released_amount=fa(e.released_asset, e.released_amount)))
            elif isinstance(e, OrderFilled):
                message = events_pb2.OrderEvent(envelope=envelope, filled=events_pb2.OrderFilled(
                    order_id=oid(e.order_id), client_order_id=e.client_order_id,
                    account_id=e.account_id, filled_quantity=fq(e.filled_lots),
                    released_asset=e.released_asset,
                    released_amount=fa(e.released_asset, e.released_amount)))
            elif isinstance(e, BalanceApplied):
                key = e.account_id
                scale = 6 if e.asset == "USDT" else 8
                delta = f"{e.delta / 10**scale:.{scale}f}".rstrip("0").rstrip(".")
                message = events_pb2.OrderEvent(
                    envelope=envelope, balance_applied=events_pb2.BalanceApplied(
                        adjustment_id=e.adjustment_id, account_id=e.account_id, asset=e.asset,
                        delta=delta, applied=e.applied, code=e.code))  # type: ignore[arg-type]
            elif isinstance(e, TradeExecuted):
                assert grid is not None
                topic = "core.trade-events.v1"
                message = events_pb2.TradeEvent(envelope=envelope, trade=mapper.trade(grid, e))
            elif isinstance(e, SymbolModeChanged):
                topic = "core.book-events.v1"
                message = events_pb2.BookEvent(
                    envelope=envelope, mode_changed=events_pb2.SymbolModeChanged(
                        mode=e.mode, previous_mode=e.previous_mode))  # type: ignore[arg-type]
            else:
                assert isinstance(e, BookDelta) and grid is not None
                topic = "core.book-events.v1"
                message = events_pb2.BookEvent(envelope=envelope, delta=events_pb2.BookDelta(
                    bids=[events_pb2.PriceLevel(price=grid.format_price(p), quantity=fq(q),
                                                order_count=c) for p, q, c in e.bids],
                    asks=[events_pb2.PriceLevel(price=grid.format_price(p), quantity=fq(q),
                                                order_count=c) for p, q, c in e.asks]))
            out.events.add(topic=topic, key=key, event_id=message.envelope.event_id,
                           payload=message.SerializeToString())
    return out.SerializeToString()


def test_command_events_bytes_equal_the_messages_built_the_obvious_way() -> None:
    mapper = EventMapper(Engine(parse_markets(MARKETS)), "core-0")
    results = _results()
    engine = Engine(parse_markets(MARKETS))  # a cancel and a rejected cancel as well
    engine.apply(BalanceAdjust("d1", AccountId("alice"), Asset("USDT"), 10**12))
    placed = engine.apply(PlaceOrder(Symbol("BTC-USDT"), AccountId("alice"), "x", codes.BUY,
                                     codes.LIMIT, codes.GTC, 10_000, 5_000, ts_ns=TS_NS))
    for order_id in (format_order_id("BTC-USDT", placed.order_id), "BTC-USDT:999"):
        results.append(engine.apply(CancelOrder(Symbol("BTC-USDT"), AccountId("alice"),
                                                order_id, ts_ns=TS_NS)))
    for mode in (codes.MODE_HALTED, codes.MODE_NORMAL):  # published with the book's events
        results.append(engine.apply(SetSymbolMode(Symbol("BTC-USDT"), mode, ts_ns=TS_NS)))
    kinds: set[str] = set()
    for seq, result in enumerate(results, start=1):
        kinds |= {type(e).__name__ for e in result.events}
        assert mapper.command_events(result, wal_seq=seq, ts_ns=TS_NS, epoch=7,
                                     correlation_id="corr") == _reference(mapper, result, seq)
    assert {"OrderAccepted", "TradeExecuted", "OrderFilled", "BookDelta",
            "BalanceApplied", "OrderRejected", "OrderCanceled", "SymbolModeChanged"} <= kinds
    halted = events_pb2.BookEvent.FromString(wal_pb2.CommandEvents.FromString(
        mapper.command_events(results[-2], wal_seq=1, ts_ns=TS_NS, epoch=7)).events[0].payload)
    assert (halted.mode_changed.mode, halted.mode_changed.previous_mode) == (
        common_pb2.SYMBOL_MODE_HALTED, common_pb2.SYMBOL_MODE_NORMAL)


def test_a_new_time_or_epoch_between_commands_is_never_served_from_the_previous_one() -> None:
    """The mapper keeps the time/epoch parts of the last call (a batch shares them)."""
    mapper = EventMapper(Engine(parse_markets(MARKETS)), "core-0")
    result = _results()[4]
    stamps = [(TS_NS, 7), (TS_NS, 7), (TS_NS + 1, 7), (TS_NS + 1, 8), (TS_NS, 7), (1, 1)]
    for seq, (ts_ns, epoch) in enumerate(stamps, start=1):
        data = mapper.command_events(result, wal_seq=seq, ts_ns=ts_ns, epoch=epoch)
        fresh = EventMapper(Engine(parse_markets(MARKETS)), "core-0").command_events(
            result, wal_seq=seq, ts_ns=ts_ns, epoch=epoch)
        assert data == fresh
        parsed = wal_pb2.CommandEvents.FromString(data)
        assert (parsed.seq, parsed.ts_ns, parsed.epoch) == (seq, ts_ns, epoch)
        envelope = events_pb2.OrderEvent.FromString(parsed.events[0].payload).envelope
        assert (envelope.occurred_at.seconds * 10**9 + envelope.occurred_at.nanos,
                envelope.epoch) == (ts_ns, epoch)


def test_a_reply_s_trades_are_the_bytes_of_their_events_kept_or_not() -> None:
    from exchange_core.adapters.event_mapping import trade_body

    engine = Engine(parse_markets(MARKETS))
    mapper = EventMapper(engine, "core-0")
    trade_result = _results()[4]  # two trades
    grid = mapper.grid("BTC-USDT")
    fresh = [trade_body(EventMapper(engine, "core-0").grid("BTC-USDT"), t)
             for t in trade_result.trades]
    events = wal_pb2.CommandEvents.FromString(
        mapper.command_events(trade_result, wal_seq=5, ts_ns=TS_NS, epoch=1)).events
    from_events = [events_pb2.TradeEvent.FromString(e.payload).trade.SerializeToString()
                   for e in events if e.topic == "core.trade-events.v1"]
    kept = [trade_body(grid, t) for t in trade_result.trades]  # taken from the events
    again = [trade_body(grid, t) for t in trade_result.trades]  # no longer kept
    assert len(fresh) == 2 and kept == again == fresh == from_events
