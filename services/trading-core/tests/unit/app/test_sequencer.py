from collections.abc import Callable

import pytest

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.app.ports import JournalBatch, JournalEntry
from exchange_core.app.replay import ReplayCheckpoint, ReplayCommand, replay
from exchange_core.app.sequencer import Sequencer, SnapshotPolicy
from exchange_core.domain import (
    AssetSpec,
    BalanceAdjust,
    Engine,
    EngineConfig,
    InvariantViolation,
    MarketSpec,
    PlaceOrder,
    codes,
)

CONFIG = EngineConfig(
    assets=(AssetSpec(Asset("BTC"), 8), AssetSpec(Asset("USDT"), 6)),
    markets=(MarketSpec(Symbol("BTC-USDT"), Asset("BTC"), Asset("USDT"), tick_size="0.01",
                        lot_size="0.0001", min_quantity="0.0001", max_quantity="1000"),),
)


class _Journal:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self.batches: list[JournalBatch] = []

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)

    def record_batch(self, batch: JournalBatch) -> None:
        self.batches.append(batch)


class _Sink:
    def __init__(self) -> None:
        self.offers: list[int] = []

    def offer(self, seq: int, state_hash: str, image: Callable[[], bytes], epoch: int) -> bool:
        self.offers.append(seq)
        return True


def _commands() -> list[object]:
    out: list[object] = [BalanceAdjust("d1", AccountId("alice"), Asset("USDT"), 10**12),
                         BalanceAdjust("d2", AccountId("bob"), Asset("BTC"), 10**10)]
    for i in range(20):
        out.append(PlaceOrder(Symbol("BTC-USDT"), AccountId("alice" if i % 2 else "bob"), "",
                              codes.BUY if i % 2 else codes.SELL, codes.LIMIT, 0,
                              3_000_000 + i % 3, 10))
    return out


def test_commands_are_stamped_with_consecutive_seqs_monotonic_time_and_the_epoch() -> None:
    journal = _Journal()
    clock = iter([50, 40, 60, *range(100, 200)]).__next__  # the wall clock steps back
    sequencer = Sequencer(Engine(CONFIG), journal, epoch=7, next_seq=11, checkpoint_every=5,
                          clock_ns=clock)
    for command in _commands():
        sequencer.execute("source", command)  # type: ignore[arg-type]
    seqs = [e.seq for e in journal.entries]
    times = [e.ts_ns for e in journal.entries]
    assert seqs == list(range(11, 33))
    assert times[:3] == [50, 50, 60] and times == sorted(times)
    assert {e.epoch for e in journal.entries} == {7}
    assert all(e.command.ts_ns == e.ts_ns for e in journal.entries)
    assert [e.seq for e in journal.entries if e.state_hash] == [15, 20, 25, 30]


def test_replaying_the_journal_reproduces_every_checkpoint_hash() -> None:
    journal = _Journal()
    live = Engine(CONFIG)
    sequencer = Sequencer(live, journal, epoch=1, next_seq=1, checkpoint_every=4)
    for command in _commands():
        sequencer.execute(None, command)  # type: ignore[arg-type]
    entries: list[ReplayCommand | ReplayCheckpoint] = []
    for e in journal.entries:
        entries.append(ReplayCommand(e.seq, e.command))
        if e.state_hash:
            entries.append(ReplayCheckpoint(e.seq, e.state_hash))
    rebuilt = Engine(CONFIG)
    outcome = replay(rebuilt, entries, after_seq=0)
    assert outcome.checkpoints_verified == 5
    assert rebuilt.state_hash() == live.state_hash()


def test_a_snapshot_is_offered_every_n_commands() -> None:
    sink = _Sink()
    sequencer = Sequencer(Engine(CONFIG), _Journal(), epoch=1, next_seq=1, checkpoint_every=100,
                          snapshots=SnapshotPolicy(sink, every_commands=8, every_seconds=10**6))
    for command in _commands():
        sequencer.execute(None, command)  # type: ignore[arg-type]
    assert sink.offers == [8, 16]


def test_a_snapshot_is_offered_after_t_seconds_even_below_n_commands() -> None:
    sink, now = _Sink(), [0.0]
    policy = SnapshotPolicy(sink, every_commands=10**6, every_seconds=300,
                            clock_s=lambda: now[0])
    sequencer = Sequencer(Engine(CONFIG), _Journal(), epoch=1, next_seq=1, checkpoint_every=100,
                          snapshots=policy)
    commands = _commands()
    for command in commands[:3]:
        sequencer.execute(None, command)  # type: ignore[arg-type]
    assert sink.offers == []
    now[0] = 301.0  # five minutes later, the next command takes one
    sequencer.execute(None, commands[3])  # type: ignore[arg-type]
    now[0] = 700.0  # and nothing without a new command (no empty snapshot)
    assert sink.offers == [4] and not policy.due(4)


def test_a_batch_takes_consecutive_seqs_in_one_record_and_matches_one_by_one() -> None:
    commands = [c._replace(ts_ns=500) for c in _commands()]  # type: ignore[attr-defined]
    one_by_one = Sequencer(Engine(CONFIG), _Journal(), epoch=1, next_seq=1, checkpoint_every=5,
                           clock_ns=lambda: 500)
    for command in commands:
        one_by_one.execute("source", command)
    journal = _Journal()
    engine = Engine(CONFIG)
    batched = Sequencer(engine, journal, epoch=1, next_seq=1, checkpoint_every=5,
                        clock_ns=lambda: 500)
    first, results = batched.execute_batch("batch", commands[:7], batched.now_ns())
    second, _ = batched.execute_batch("batch", commands[7:9], batched.now_ns())
    third, _ = batched.execute_batch("batch", commands[9:], batched.now_ns())
    assert (first, second, third, batched.last_seq) == (1, 8, 10, len(commands))
    assert [b.first_seq for b in journal.batches] == [1, 8, 10] and not journal.entries
    assert len(results) == 7 and results[0].accepted
    # A checkpoint after a batch that crossed a multiple of 5 (7, 22), none after 8-9.
    assert [b.state_hash is not None for b in journal.batches] == [True, False, True]
    assert journal.batches[0].state_hash != journal.batches[2].state_hash
    assert engine.state_hash() == one_by_one._engine.state_hash()


def test_a_batch_command_not_stamped_with_the_batch_time_is_refused() -> None:
    sequencer = Sequencer(Engine(CONFIG), _Journal(), epoch=1, next_seq=1, checkpoint_every=5,
                          clock_ns=lambda: 500)
    with pytest.raises(InvariantViolation):
        sequencer.execute_batch("batch", _commands()[:1], 500)  # type: ignore[arg-type]
    assert sequencer.last_seq == 0


def test_the_state_hash_is_folded_after_every_journal_record() -> None:
    """The fold runs while the record's fsync is in flight, a few entities at a time,
    never as one big fold inside a later command."""
    engine = Engine(CONFIG)
    sequencer = Sequencer(engine, _Journal(), epoch=1, next_seq=1, checkpoint_every=1_000)
    commands = _commands()
    engine.apply(commands[0])  # type: ignore[arg-type]  # outside the sequencer: no fold
    assert engine.unfolded() > 0
    sequencer.execute("source", commands[1])  # type: ignore[arg-type]
    assert engine.unfolded() == 0
    ts_ns = sequencer.now_ns()
    batch = [c._replace(ts_ns=ts_ns) for c in commands[2:12]]  # type: ignore[attr-defined]
    sequencer.execute_batch("source", batch, ts_ns)
    assert engine.unfolded() == 0
