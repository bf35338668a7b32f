from exchange.v1 import common_pb2, events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_common.ids import AccountId, Symbol
from exchange_core.adapters import command_mapping
from exchange_core.adapters.command_mapping import Unsequenced
from exchange_core.adapters.market_config import parse_markets
from exchange_core.domain import BalanceAdjust, CancelOrder, Command, Engine, PlaceOrder, codes

ENGINE = Engine(parse_markets({
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}))


def _place(**fields: object) -> Command | Unsequenced:
    base: dict[str, object] = {"symbol": "BTC-USDT", "account_id": "a", "side": 1,
                               "order_type": 1, "price": "30000.5", "quantity": "0.25"}
    base.update(fields)
    return command_mapping.place_order(ENGINE, pb.PlaceOrderRequest(**base))  # type: ignore[arg-type]


def test_a_limit_order_maps_to_exact_ticks_and_lots() -> None:
    command = _place()
    assert isinstance(command, PlaceOrder)
    assert (command.price_ticks, command.qty_lots) == (3_000_050, 2_500)


def test_off_grid_and_malformed_input_is_refused_before_sequencing() -> None:
    assert _place(price="30000.001") == Unsequenced(codes.PRICE_OFF_TICK,
                                                    "price off the grid: '30000.001'")
    assert isinstance(_place(quantity="0.00001"), Unsequenced)
    assert _place(quantity="abc") == Unsequenced(codes.INVALID_QUANTITY,
                                                 "quantity: not a plain decimal number: 'abc'")
    assert _place(price="1e5") == Unsequenced(codes.INVALID_PRICE,
                                              "price: not a plain decimal number: '1e5'")
    assert _place(symbol="NOPE-USDT") == Unsequenced(codes.UNKNOWN_SYMBOL,
                                                     "unknown symbol 'NOPE-USDT'")


def test_a_market_order_needs_no_price() -> None:
    command = _place(order_type=2, price="", quote_budget="100")
    assert isinstance(command, PlaceOrder)
    assert (command.price_ticks, command.quote_budget) == (0, 100_000_000)


def test_a_balance_adjustment_of_an_unknown_asset_is_not_sequenced() -> None:
    adjusted = events_pb2.BalanceAdjusted(adjustment_id="x", account_id="a", asset="DOGE",
                                          delta="1")
    assert isinstance(command_mapping.balance_adjust(ENGINE, adjusted), Unsequenced)
    adjusted.asset, adjusted.delta = "USDT", "-1.5"
    mapped = command_mapping.balance_adjust(ENGINE, adjusted)
    assert isinstance(mapped, BalanceAdjust) and mapped.delta == -1_500_000


def test_parsing_depends_on_each_market_own_grid() -> None:
    coarse = Engine(parse_markets({
        "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
        "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.05",
                     "lot_size": "0.01", "min_quantity": "0.01", "max_quantity": "1000"}],
    }))
    request = pb.PlaceOrderRequest(symbol="BTC-USDT", account_id="a", side=common_pb2.SIDE_BUY,
                                   order_type=common_pb2.ORDER_TYPE_LIMIT,
                                   price="30000.01", quantity="0.25")
    assert isinstance(command_mapping.place_order(ENGINE, request), PlaceOrder)
    refused = command_mapping.place_order(coarse, request)
    assert isinstance(refused, Unsequenced) and refused.code == codes.PRICE_OFF_TICK


def test_mapped_commands_carry_every_field_by_name() -> None:
    """The mapping builds commands positionally (fast): each value lands in its field."""
    place = command_mapping.place_fields(
        ENGINE, symbol="BTC-USDT", account_id="acct", client_order_id="cid", side=2,
        order_type=2, time_in_force=3, price_text="30000.5", quantity_text="0.25",
        quote_budget="", protection_price="29000", post_only=True, stp=1, ts_ns=99,
        correlation_id="corr")
    assert place == PlaceOrder(
        symbol=Symbol("BTC-USDT"), account_id=AccountId("acct"), client_order_id="cid",
        side=2, order_type=2, time_in_force=3, price_ticks=3_000_050, qty_lots=2_500,
        quote_budget=0, protection_ticks=2_900_000, post_only=True, stp=1, ts_ns=99,
        correlation_id="corr")
    cancel = command_mapping.cancel_fields(ENGINE, "BTC-USDT", "acct", order_id="BTC-USDT:7",
                                           client_order_id="cid", ts_ns=5, correlation_id="r")
    assert cancel == CancelOrder(symbol=Symbol("BTC-USDT"), account_id=AccountId("acct"),
                                 order_id="BTC-USDT:7", client_order_id="cid", ts_ns=5,
                                 correlation_id="r")
    assert type(place) is PlaceOrder and type(cancel) is CancelOrder
