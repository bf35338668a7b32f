"""The Journal port on the WAL: entries -> frames (command, events, checkpoint).

Also the way back: WAL entries -> replay input, mapping each stored request through the
same command mapping as when it was first accepted.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

from exchange.core.v1 import wal_pb2
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_reader import read_entries
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.ports import JournalEntry
from exchange_core.app.replay import ReplayCheckpoint, ReplayCommand
from exchange_core.domain import Command, Engine

_COMMAND = RecordType.COMMAND
_EVENTS = RecordType.EVENTS
_CHECKPOINT = RecordType.CHECKPOINT


class WalJournal:
    def __init__(self, writer: WalWriter, mapper: EventMapper) -> None:
        self._writer = writer
        self._mapper = mapper

    def record(self, entry: JournalEntry) -> None:
        command = entry.source
        if not isinstance(command, wal_pb2.SequencedCommand):
            raise TypeError(f"journal source must be a SequencedCommand, got {type(command)}")
        command.seq, command.ts_ns, command.epoch = entry.seq, entry.ts_ns, entry.epoch
        events = self._mapper.command_events(
            entry.result, wal_seq=entry.seq, ts_ns=entry.ts_ns, epoch=entry.epoch,
            correlation_id=entry.command.correlation_id,
        )
        frames = encode_frame(_COMMAND, command.SerializeToString()) + encode_frame(
            _EVENTS, events
        )
        if entry.state_hash is not None:
            checkpoint = wal_pb2.Checkpoint(
                seq=entry.seq, state_hash=bytes.fromhex(entry.state_hash), epoch=entry.epoch
            )
            frames += encode_frame(_CHECKPOINT, checkpoint.SerializeToString())
        self._writer.append(entry.seq, frames)


def to_command(engine: Engine, logged: wal_pb2.SequencedCommand) -> Command:
    """The domain command of a logged request, stamped with its logged time."""
    which = logged.WhichOneof("command")
    ts_ns = logged.ts_ns
    mapped: Command | command_mapping.Unsequenced
    if which == "place_order":
        mapped = command_mapping.place_order(engine, logged.place_order, ts_ns)
    elif which == "cancel_order":
        mapped = command_mapping.cancel_order(engine, logged.cancel_order, ts_ns)
    elif which == "cancel_all":
        mapped = command_mapping.cancel_all(engine, logged.cancel_all)
    elif which == "set_symbol_mode":
        mapped = command_mapping.set_symbol_mode(engine, logged.set_symbol_mode)
    elif which == "balance":
        mapped = command_mapping.balance_adjust(
            engine, logged.balance.adjusted, logged.balance.source_event_id)
    else:
        raise ValueError(f"WAL seq {logged.seq}: no command in record")
    if isinstance(mapped, command_mapping.Unsequenced):
        raise ValueError(f"WAL seq {logged.seq}: logged request no longer maps: {mapped.reason}")
    return mapped if mapped.ts_ns == ts_ns else mapped._replace(ts_ns=ts_ns)


BalancePositions = dict[int, int]
"""ledger.balance-events.v1 partition -> next offset to consume."""


def replay_input(
    wal_dir: Path,
    engine: Callable[[], Engine],
    after_seq: int,
    positions: BalancePositions,
    epochs: list[int],
) -> Iterator[ReplayCommand | ReplayCheckpoint]:
    """WAL entries after ``after_seq`` as replay input; tracks balance feed positions and
    the newest epoch seen (``epochs[0]``) as it goes."""
    newest = epochs[0]
    for entry in read_entries(wal_dir, after_seq):
        if isinstance(entry, wal_pb2.Checkpoint):
            yield ReplayCheckpoint(entry.seq, entry.state_hash.hex())
            continue
        if entry.epoch > newest:
            newest = epochs[0] = entry.epoch
        if entry.HasField("balance"):
            part, offset = entry.balance.source_partition, entry.balance.source_offset
            positions[part] = max(positions.get(part, 0), offset + 1)
        yield ReplayCommand(entry.seq, to_command(engine(), entry))
