import exchange_common


def test_public_face_lists_exactly_what_it_exports() -> None:
    exported = {name for name in dir(exchange_common) if not name.startswith("_")}
    modules = {"config", "envelope", "ids", "money", "topics", "kafka"}
    assert set(exchange_common.__all__) == exported - modules
