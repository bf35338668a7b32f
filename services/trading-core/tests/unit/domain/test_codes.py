"""Every code constant equals the contract's enum number (exchange.v1.common_pb2)."""

from exchange.v1 import common_pb2
from exchange_core.domain import codes

PREFIXES = {
    "REJECT_CODE_": "",
    "SIDE_": "",
    "ORDER_TYPE_": "",
    "TIME_IN_FORCE_": "",
    "SELF_TRADE_PREVENTION_": "STP_",
    "SYMBOL_MODE_": "MODE_",
    "ORDER_STATUS_": "STATUS_",
    "LIQUIDITY_": "",
    "CANCEL_REASON_": "CANCEL_",
}
ALIASES = {"TIF_UNSPECIFIED": "TIME_IN_FORCE_UNSPECIFIED", "CANCEL_ALL": "CANCEL_REASON_CANCEL_ALL"}


def test_every_domain_code_matches_the_contract_number() -> None:
    checked = 0
    for name in dir(codes):
        if not name.isupper():
            continue
        value = getattr(codes, name)
        candidates = [ALIASES.get(name, "")] + [
            p + name.removeprefix(short) for p, short in PREFIXES.items()
            if (not short or name.startswith(short))]
        numbers = {getattr(common_pb2, c) for c in candidates if c and hasattr(common_pb2, c)}
        assert numbers, f"{name} has no contract counterpart"
        assert value in numbers, f"{name}={value} but the contract says {numbers}"
        checked += 1
    assert checked > 60
