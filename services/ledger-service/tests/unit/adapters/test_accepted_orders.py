"""The accepted-orders cache: positive facts only, bounded, oldest forgotten first."""

from exchange_ledger.adapters.settlement_store import AcceptedOrders


def test_only_added_ids_are_known_and_the_cache_is_bounded() -> None:
    cache = AcceptedOrders(capacity=3)
    cache.add(["a", "b", "c"])
    assert cache.known(["a", "x"]) == {"a"}
    cache.add(["d"])
    assert cache.known(["a", "b", "c", "d"]) == {"b", "c", "d"}
