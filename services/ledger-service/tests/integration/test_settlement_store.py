"""Settlement against the real PostgreSQL: exactly once, in any delivery order."""

import random
import threading

import pytest

from exchange_ledger.adapters.decoders import decode_record
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.app.ports import RecordCursor, StaleOffsetError
from exchange_ledger.domain.inbound import Inbound, Source
from exchange_ledger.domain.rejection import Refusal
from exchange_ledger.testing import CoreEvents, Record, scripted_market

from .conftest import Ledger

pytestmark = pytest.mark.integration

TRADE_TOPIC, ORDER_TOPIC = "core.trade-events.v1", "core.order-events.v1"


def _assert_invariants(ledger: Ledger) -> None:
    report = InvariantChecker(ledger.pool.connection).check()
    assert report.ok, report.violations


def test_a_scripted_market_settles_with_every_hold_released(ledger: Ledger) -> None:
    ledger.fund()
    orders, trades = scripted_market(60)
    plans = ledger.settle_records([*orders[:2], trades[0], *orders[2:4], *orders[4:], *trades[1:]])
    assert all(p.poison is None for p in plans)
    assert ledger.scalar("SELECT count(*) FROM trades") == 60
    assert ledger.scalar("SELECT count(*) FROM balances WHERE kind = 'hold' AND units <> 0") == 0
    assert ledger.scalar("SELECT count(*) FROM parked_events") == 0
    assert ledger.balance("@fees", "USDT", "fee") > 0
    _assert_invariants(ledger)


def test_redelivering_everything_changes_nothing(ledger: Ledger) -> None:
    ledger.fund()
    orders, trades = scripted_market(40)
    ledger.settle_records([*orders, *trades])
    before = ledger.all_balances()
    entries = ledger.scalar("SELECT count(*) FROM journal_entries")
    plans = ledger.settle_records([*trades, *orders, *trades], batch=97)
    assert sum(p.duplicates for p in plans) == 40 + 160 + 40
    assert all(not p.applied for p in plans)
    assert ledger.all_balances() == before
    assert ledger.scalar("SELECT count(*) FROM journal_entries") == entries


def test_any_interleaving_of_the_two_topics_gives_the_same_ledger(
        ledger: Ledger, other_ledger: Ledger) -> None:
    orders, trades = scripted_market(80)
    for each in (ledger, other_ledger):
        each.fund()
    ledger.settle_records([*orders, *trades])
    rng = random.Random(7)
    mixed: list[Record] = []
    o, t = list(orders), list(reversed(trades))
    while o or t:  # order within each topic kept (as Kafka does), topics interleaved freely
        mixed.append(t.pop() if t and (not o or rng.random() < 0.6) else o.pop(0))
    plans = other_ledger.settle_records(mixed, batch=33)
    assert all(p.poison is None for p in plans)
    assert sum(len(p.parked_new) for p in plans) > 0  # some trades did arrive early
    assert other_ledger.scalar("SELECT count(*) FROM parked_events") == 0
    assert other_ledger.all_balances() == ledger.all_balances()
    _assert_invariants(other_ledger)


def test_a_trade_id_seen_again_with_other_content_is_refused_and_changes_nothing(
        ledger: Ledger) -> None:
    ledger.fund()
    orders, trades = scripted_market(3)
    ledger.settle_records([*orders, *trades])
    before = ledger.all_balances()
    m = CoreEvents()
    forged = m.trade("t1", price="30000.01", quantity="0.0002", quote_amount="6.000002",
                     buyer="acct-3", seller="acct-2", buyer_order="b1", seller_order="s1",
                     seq=500)
    follow = m.accepted("late-order", "acct-0", "BTC", "0.1", seq=501)
    plans = ledger.settle_records([Record(TRADE_TOPIC, b"", forged),
                                   Record(ORDER_TOPIC, b"", follow)])
    poison = plans[0].poison
    assert poison is not None and poison.index == 0
    assert poison.rejection.code == Refusal.EXISTS_WITH_DIFFERENT_CONTENT
    assert plans[0].consumed == 0 and not plans[0].applied  # nothing after it either
    assert ledger.all_balances() == before
    assert ledger.scalar("SELECT count(*) FROM poison_events") == 1


def test_an_event_id_reused_for_another_body_is_refused(ledger: Ledger) -> None:
    ledger.fund()
    m = CoreEvents()
    first = m.accepted("o1", "acct-0", "BTC", "1", seq=10)
    again = m.accepted("o2", "acct-0", "BTC", "1", seq=10)  # same (symbol, seq, index)
    plans = ledger.settle_records([Record(ORDER_TOPIC, b"", first),
                                   Record(ORDER_TOPIC, b"", again)])
    assert plans[0].consumed == 1
    assert plans[0].poison is not None
    assert plans[0].poison.rejection.code == Refusal.EXISTS_WITH_DIFFERENT_CONTENT
    assert ledger.balance("acct-0", "BTC", "hold") == 100_000_000


def test_a_movement_beyond_the_hold_is_poison_and_the_prefix_is_kept(ledger: Ledger) -> None:
    ledger.deposit("acct-0", "BTC", "1")
    m = CoreEvents()
    ok = m.accepted("o1", "acct-0", "BTC", "0.5", seq=1)
    too_much = m.released("canceled", "o1", "acct-0", "BTC", "0.6", seq=2)
    plans = ledger.settle_records([Record(ORDER_TOPIC, b"", ok),
                                   Record(ORDER_TOPIC, b"", too_much)])
    assert plans[0].consumed == 1
    assert plans[0].poison is not None
    assert plans[0].poison.rejection.code == Refusal.INSUFFICIENT_FUNDS
    assert ledger.balance("acct-0", "BTC", "hold") == 50_000_000
    assert ledger.balance("acct-0", "BTC", "available") == 50_000_000


def test_an_amount_finer_than_the_asset_scale_is_poison_never_rounded(ledger: Ledger) -> None:
    ledger.deposit("acct-0", "BTC", "1")
    bad = CoreEvents().accepted("o1", "acct-0", "BTC", "0.000000001", seq=1)
    plans = ledger.settle_records([Record(ORDER_TOPIC, b"", bad)])
    assert plans[0].poison is not None
    assert plans[0].poison.rejection.code == Refusal.INVALID_AMOUNT
    assert ledger.balance("acct-0", "BTC", "hold") == 0


def test_events_from_an_older_epoch_are_ignored(ledger: Ledger) -> None:
    ledger.deposit("acct-0", "BTC", "1")
    new, old = CoreEvents(epoch=2), CoreEvents(epoch=1)
    records = [Record(ORDER_TOPIC, b"", new.accepted("o1", "acct-0", "BTC", "0.1", seq=5)),
               Record(ORDER_TOPIC, b"", old.accepted("o2", "acct-0", "BTC", "0.2", seq=6))]
    plans = ledger.settle_records(records)
    assert plans[0].fenced == 1
    assert ledger.balance("acct-0", "BTC", "hold") == 10_000_000
    assert ledger.scalar("SELECT epoch FROM symbol_state WHERE symbol = 'BTC-USDT'") == 2


def test_sequence_gaps_are_recorded_and_closed_by_late_events(ledger: Ledger) -> None:
    ledger.deposit("acct-0", "BTC", "1")
    m = CoreEvents()
    r = [Record(ORDER_TOPIC, b"", m.rejected("acct-0", seq=s)) for s in (1, 5, 3)]
    ledger.settle_records(r[:2])
    with ledger.app_conn() as conn:
        assert conn.execute("SELECT from_seq, to_seq FROM seq_gaps").fetchall() == [(2, 4)]
    ledger.settle_records(r[2:])
    with ledger.app_conn() as conn:
        assert conn.execute("SELECT from_seq, to_seq FROM seq_gaps ORDER BY 1").fetchall() == [
            (2, 2), (4, 4)]
        assert conn.execute("SELECT last_seq FROM symbol_state").fetchone() == (5,)


def test_a_stale_offset_rolls_the_whole_batch_back(ledger: Ledger) -> None:
    ledger.fund()
    orders, _ = scripted_market(5)
    with ledger.app_conn() as conn:
        conn.execute("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
                     " VALUES ('test-group', %s, 0, 0)", (ORDER_TOPIC,))
    events = [decode_record(ORDER_TOPIC, r.value, Source(ORDER_TOPIC, 0, i), ledger.scales)
              for i, r in enumerate(orders)]
    places = [(ORDER_TOPIC, 0, i) for i in range(len(orders))]
    ledger.store.settle(events[:10], RecordCursor("test-group", {(ORDER_TOPIC, 0): 0}, places[:10]))
    assert ledger.scalar("SELECT next_offset FROM consumer_offsets") == 10
    entries = ledger.scalar("SELECT count(*) FROM journal_entries")
    with pytest.raises(StaleOffsetError):  # a zombie that still believes the offset is 0
        ledger.store.settle(events[10:], RecordCursor("test-group", {(ORDER_TOPIC, 0): 0},
                                                      places[10:]))
    assert ledger.scalar("SELECT next_offset FROM consumer_offsets") == 10
    assert ledger.scalar("SELECT count(*) FROM journal_entries") == entries


def test_concurrent_adjustments_and_settlements_on_the_same_accounts(ledger: Ledger) -> None:
    ledger.fund(4)
    orders, trades = scripted_market(200, n_accounts=4)
    errors: list[BaseException] = []

    def settle() -> None:
        try:
            ledger.settle_records([*orders, *trades], batch=50)
        except BaseException as exc:
            errors.append(exc)

    def adjust(worker: int) -> None:
        try:
            for i in range(40):
                ledger.deposit(f"acct-{i % 4}", "USDT", "1", adjustment_id=f"w{worker}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=settle)] + [
        threading.Thread(target=adjust, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ledger.scalar("SELECT count(*) FROM trades") == 200
    assert ledger.balance("@treasury", "USDT", "external") == -(4 * 100_000_000 + 120) * 10**8
    _assert_invariants(ledger)


def test_decoded_events_carry_the_settlement_identity(ledger: Ledger) -> None:
    _, trades = scripted_market(1)
    event = decode_record(TRADE_TOPIC, trades[0].value, Source(TRADE_TOPIC), ledger.scales)
    assert isinstance(event, Inbound) and event.entry is not None
    assert sum(p.units for p in event.entry.postings if p.account.asset == "USDT") == 0
