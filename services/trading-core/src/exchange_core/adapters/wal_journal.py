"""The Journal port on the WAL: entries -> frames (command, events, checkpoint).

Also the way back: WAL entries -> replay input, mapping each stored request through the
same command mapping as when it was first accepted.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

import crc32c

from exchange.core.v1 import wal_pb2
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.proto_wire import varint
from exchange_core.adapters.request_wire import LoggedBatch, LoggedCommand
from exchange_core.adapters.wal_frame import HEADER, TYPE_CRC, RecordType, encode_frame
from exchange_core.adapters.wal_reader import read_records, sequenced_items
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.ports import JournalBatch, JournalEntry
from exchange_core.app.replay import ReplayCheckpoint, ReplayCommand
from exchange_core.domain import Command, Engine

_COMMAND: Final = RecordType.COMMAND
_EVENTS: Final = RecordType.EVENTS
_CHECKPOINT: Final = RecordType.CHECKPOINT
_BATCH_FIELD: Final = b"2"  # SequencedBatch.batch: field 6, length-delimited
_HEADER: Final = HEADER
_EVENTS_TYPE: Final = int(RecordType.EVENTS)
_COMMAND_BATCH_TYPE: Final = int(RecordType.COMMAND_BATCH)
_EVENTS_CRC: Final = TYPE_CRC[_EVENTS_TYPE]
_BATCH_CRC: Final = TYPE_CRC[_COMMAND_BATCH_TYPE]


class BatchSource(NamedTuple):
    """What the journal needs of a TradingCoreBatch message to log it as one record."""

    request: bytes  # the serialized SubmitBatchesRequest, as received
    skipped: list[int]  # indices of its commands that were not sequenced, ascending


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
            frames += _checkpoint_frame(entry.seq, entry.state_hash, entry.epoch)
        self._writer.append(entry.seq, frames)

    def record_batch(self, batch: JournalBatch) -> None:
        """One SequencedBatch frame, then each command's CommandEvents frame, then the
        checkpoint if any: all appended together, so one group commit holds them all.

        Frames are written as pieces (header, payload) joined once: the request and the
        events are copied into the record once, CRCs run over the pieces."""
        source = batch.source
        if not isinstance(source, BatchSource):
            raise TypeError(f"batch source must be a BatchSource, got {type(source)}")
        count = len(batch.results)
        request = source.request
        # Field 6 is the last one: appending it keeps the canonical field order.
        head = wal_pb2.SequencedBatch(
            first_seq=batch.first_seq, ts_ns=batch.ts_ns, epoch=batch.epoch, count=count,
            skipped=source.skipped).SerializeToString() + _BATCH_FIELD + varint(len(request))
        checksum = crc32c.crc32c(request, crc32c.crc32c(head, _BATCH_CRC))
        pieces = [_HEADER.pack(len(head) + len(request), checksum, _COMMAND_BATCH_TYPE),
                  head, request]
        events, ts_ns, epoch = self._mapper.command_events, batch.ts_ns, batch.epoch
        pack = _HEADER.pack
        seq = batch.first_seq
        for command, result in zip(batch.commands, batch.results, strict=True):
            payload = events(result, wal_seq=seq, ts_ns=ts_ns, epoch=epoch,
                             correlation_id=command.correlation_id)
            pieces.append(pack(len(payload), crc32c.crc32c(payload, _EVENTS_CRC), _EVENTS_TYPE))
            pieces.append(payload)
            seq += 1
        last = batch.first_seq + count - 1
        if batch.state_hash is not None:
            pieces.append(_checkpoint_frame(last, batch.state_hash, epoch))
        self._writer.append(last, b"".join(pieces), commands=count)


def _checkpoint_frame(seq: int, state_hash: str, epoch: int) -> bytes:
    checkpoint = wal_pb2.Checkpoint(seq=seq, state_hash=bytes.fromhex(state_hash), epoch=epoch)
    return encode_frame(_CHECKPOINT, checkpoint.SerializeToString())


def to_command(engine: Engine, logged: wal_pb2.SequencedCommand) -> Command:
    """The domain command of a logged request, stamped with its logged time."""
    which = logged.WhichOneof("command")
    if which is None:
        raise ValueError(f"WAL seq {logged.seq}: no command in record")
    return _mapped(engine, which, getattr(logged, which), logged.ts_ns, logged.seq)


def batch_commands(
    engine: Engine, logged: wal_pb2.SequencedBatch, after_seq: int
) -> Iterator[ReplayCommand]:
    """The sequenced commands of a logged batch with seq > ``after_seq``, mapped."""
    ts_ns = logged.ts_ns
    for seq, item in sequenced_items(logged):
        if seq > after_seq:
            which = item.WhichOneof("command")
            if which is None:
                raise ValueError(f"WAL seq {seq}: no command in batch item")
            yield ReplayCommand(seq, _mapped(engine, which, getattr(item, which), ts_ns, seq))


def logged_batch_commands(
    engine: Engine, logged: LoggedBatch, after_seq: int
) -> Iterator[ReplayCommand]:
    """``batch_commands`` of a batch decoded by ``request_wire`` (same checks)."""
    skipped = set(logged.skipped)
    items = logged.items
    if len(items) - len(skipped) != logged.count:
        raise ValueError(f"WAL batch at seq {logged.first_seq}: {len(items)} commands, "
                         f"{len(skipped)} skipped, but {logged.count} sequenced")
    seq, ts_ns = logged.first_seq, logged.ts_ns
    for index, item in enumerate(items):
        if index in skipped:
            continue
        if seq > after_seq:
            if not item.which:
                raise ValueError(f"WAL seq {seq}: no command in batch item")
            yield ReplayCommand(seq, _mapped(engine, item.which, item.request, ts_ns, seq))
        seq += 1


def _mapped(engine: Engine, which: str, request: Any, ts_ns: int, seq: int) -> Command:
    mapped: Command | command_mapping.Unsequenced
    if which == "place_order":
        mapped = command_mapping.place_order(engine, request, ts_ns)
    elif which == "cancel_order":
        mapped = command_mapping.cancel_order(engine, request, ts_ns)
    elif which == "cancel_all":
        mapped = command_mapping.cancel_all(engine, request, ts_ns)
    elif which == "set_symbol_mode":
        mapped = command_mapping.set_symbol_mode(engine, request, ts_ns)
    elif which == "balance":
        mapped = command_mapping.balance_adjust(
            engine, request.adjusted, request.source_event_id, ts_ns)
    else:
        raise ValueError(f"WAL seq {seq}: unknown command {which!r}")
    if isinstance(mapped, command_mapping.Unsequenced):
        raise ValueError(f"WAL seq {seq}: logged request no longer maps: {mapped.reason}")
    return mapped


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
    for entry in read_records(wal_dir, after_seq, fast_commands=True):
        if isinstance(entry, LoggedCommand):  # place / cancel / cancel-all, decoded direct
            if entry.epoch > newest:
                newest = epochs[0] = entry.epoch
            yield ReplayCommand(entry.seq, _mapped(engine(), entry.which, entry.request,
                                                   entry.ts_ns, entry.seq))
            continue
        if isinstance(entry, LoggedBatch):
            if entry.epoch > newest:
                newest = epochs[0] = entry.epoch
            yield from logged_batch_commands(engine(), entry, after_seq)
            continue
        if isinstance(entry, wal_pb2.Checkpoint):
            yield ReplayCheckpoint(entry.seq, entry.state_hash.hex())
            continue
        if entry.epoch > newest:
            newest = epochs[0] = entry.epoch
        if isinstance(entry, wal_pb2.SequencedBatch):
            yield from batch_commands(engine(), entry, after_seq)
            continue
        if entry.HasField("balance"):
            part, offset = entry.balance.source_partition, entry.balance.source_offset
            positions[part] = max(positions.get(part, 0), offset + 1)
        yield ReplayCommand(entry.seq, to_command(engine(), entry))
