"""Command events are written as bytes: they must be exactly what the messages give."""

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2, events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_common.ids import AccountId, Asset
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.domain import BalanceAdjust, Engine, Result

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
