from exchange_common.envelope import (
    EVENT_VERSION,
    make_envelope,
    make_event_id,
    timestamp_from_ns,
    timestamp_to_ns,
)


def test_event_ids_are_deterministic_and_distinct() -> None:
    assert make_event_id("BTC-USDT", 7, 0) == make_event_id("BTC-USDT", 7, 0)
    ids = {make_event_id(p, s, i) for p in ("BTC-USDT", "ETH-USDT") for s in (1, 2) for i in (0, 1)}
    assert len(ids) == 8


def test_envelope_carries_every_field_the_seed_requires() -> None:
    env = make_envelope(
        producer="BTC-USDT", symbol="BTC-USDT", seq=42, index=1, occurred_at_ns=1_500_000_000_123,
        correlation_id="req-1", causation_id="cmd-42", epoch=3,
    )
    for field in ("event_id", "event_version", "symbol", "seq", "correlation_id", "causation_id",
                  "epoch"):
        assert getattr(env, field)
    assert env.HasField("occurred_at")
    assert env.event_version == EVENT_VERSION
    assert timestamp_to_ns(env.occurred_at) == 1_500_000_000_123


def test_timestamp_round_trip_keeps_nanoseconds() -> None:
    ts_ns = 1_700_000_000_999_999_999
    assert timestamp_to_ns(timestamp_from_ns(ts_ns)) == ts_ns
