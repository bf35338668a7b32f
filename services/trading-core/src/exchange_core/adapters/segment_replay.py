"""Replaying WAL segments in one compiled pass (mypyc): frame bytes -> command -> apply.

Recovery's hot loop. A segment is read in windows of ``WINDOW_BYTES`` (one big read per
segment cost more than the replay's decoding: the kernel zero-fills and maps fresh pages
for it). For each frame: check its CRC (every frame, events included); for a command
record decode the logged request from its wire bytes with ``request_wire``'s decoders
(the command path's) and map it with ``command_mapping`` as when it was accepted, then
apply it; for a batch record, each of its sequenced commands (``request_wire.batch_head``
/ ``batch_items``, ``wal_journal.logged_batch_commands``); for a checkpoint, verify the
hash when asked. No protobuf objects and no generator chain per record between the bytes
and ``Engine.apply``. Shapes the fast path leaves
alone (balance, symbol mode, a oneof set twice, a known field with another wire type)
are parsed by protobuf and mapped by ``wal_journal`` exactly as before.

The walk stops at the first frame that does not check out; ``scan_segment`` classifies
it, as before (torn tail of the newest segment: the replay ends there; anything else
raises, naming the offset). Seq continuity is checked as ``wal_reader.read_records``
does, with the same errors.
"""

import os
from pathlib import Path
from typing import Final

import crc32c

from exchange.core.v1 import wal_pb2
from exchange_core.adapters import command_mapping
from exchange_core.adapters.command_mapping import Unsequenced
from exchange_core.adapters.request_wire import (
    CancelRequest,
    LoggedBatch,
    PlaceRequest,
    batch_head,
    batch_items,
    cancel_request,
    int64,
    place_request,
    skip_field,
    span,
    varint,
)
from exchange_core.adapters.wal_frame import MAX_PAYLOAD_BYTES, TYPE_CRC, RecordType
from exchange_core.adapters.wal_journal import batch_commands, logged_batch_commands, to_command
from exchange_core.adapters.wal_segment import WalCorruptionError, scan_segment
from exchange_core.app.replay import DivergenceError
from exchange_core.domain import Command, Engine

WINDOW_BYTES: Final = 1 << 20  # read size; a longer frame gets a window of its own size
_HEADER_SIZE: Final = 9  # u32 length, u32 crc32c(type + payload), u8 type (little-endian)
_MAX_FRAME: Final = _HEADER_SIZE + MAX_PAYLOAD_BYTES
_COPY_MAX: Final = 4096
_SEGMENT_HEADER: Final = int(RecordType.SEGMENT_HEADER)
_COMMAND: Final = int(RecordType.COMMAND)
_CHECKPOINT: Final = int(RecordType.CHECKPOINT)
_COMMAND_BATCH: Final = int(RecordType.COMMAND_BATCH)
_VARINT: Final = 0
_LEN: Final = 2
# SequencedCommand's oneof: place_order 10, cancel_order 11, cancel_all 12 (decoded here),
# set_symbol_mode 13, balance 14 (protobuf).
_PLACE_FIELD: Final = 10
_CANCEL_FIELD: Final = 11
_CANCEL_ALL_FIELD: Final = 12
_LAST_COMMAND_FIELD: Final = 14
_crc: Final = crc32c.crc32c
# The CRC32C of each record type's byte (a frame checksum's start), by type; -1: no type.
_START_CRC: Final = tuple(TYPE_CRC.get(t, -1) for t in range(max(TYPE_CRC) + 1))


def _u32(data: bytes, at: int) -> int:
    return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)


class ReplayPass:
    """One replay of WAL segments (in seq order) into ``engine``: position and counters.

    ``verify_only_seq``: with ``verify``, check only the checkpoint at that seq (None: all
    of them); the others are counted as skipped. ``positions`` (balance feed partition ->
    next offset) and ``newest_epoch`` are updated as records are applied. Segments are
    read ``window_bytes`` at a time. ``snapshot_hashes`` (seq -> recorded hash): the state
    after each of those seqs is checked too (a replay from scratch vouching for the
    snapshots).
    """

    def __init__(self, engine: Engine, after_seq: int, *, verify: bool,
                 verify_only_seq: int | None, positions: dict[int, int],
                 newest_epoch: int, window_bytes: int = WINDOW_BYTES,
                 snapshot_hashes: dict[int, str] | None = None) -> None:
        self.engine = engine
        self.after_seq = after_seq
        self.last_seq = after_seq
        self.commands = 0
        self.checkpoints_verified = 0
        self.checkpoints_skipped = 0
        self.newest_epoch = newest_epoch
        self.positions = positions
        self._verify = verify
        self._only = verify_only_seq
        self._window = window_bytes
        self._snapshots = snapshot_hashes  # seq -> hash recorded by a snapshot at that seq
        self.snapshots_verified = 0

    def segment_file(self, path: Path, *, is_last: bool, limit: int = -1) -> None:
        """Apply the records of one segment file, window by window; a frame that does
        not check out is classified by ``scan_segment`` (raises unless a torn tail of
        the newest segment, which ends the segment there). ``limit`` >= 0: the log ends
        there (``wal_segment.readable_bytes`` of a newest segment not repaired)."""
        with open(path, "rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            if 0 <= limit < size:
                size = limit
            base = 0
            window = self._window
            while True:
                handle.seek(base)
                data = handle.read(min(window, size - base))
                stop = self.frames(path, data, base)
                read_to = base + len(data)
                if stop == len(data) and read_to >= size:
                    return  # every frame of the file applied
                left = len(data) - stop
                need = _HEADER_SIZE + (_u32(data, stop) if left >= _HEADER_SIZE else 0)
                if not data or read_to >= size or need <= left or need > _MAX_FRAME:
                    break  # a frame that does not check out
                base += stop  # a frame runs past what was read: read on from it
                window = max(self._window, need)
        scan_segment(path, is_last=is_last)

    def frames(self, path: Path, data: bytes, base: int) -> int:
        """Apply the frames of ``data`` (the segment's bytes from offset ``base``);
        return where the walk stopped (``len(data)``: every frame checked out)."""
        end = len(data)
        offset = 0
        with memoryview(data) as view:
            while offset + _HEADER_SIZE <= end:
                length = _u32(data, offset)
                checksum = _u32(data, offset + 4)
                record_type = data[offset + 8]
                start = offset + _HEADER_SIZE
                stop = start + length
                start_crc = _START_CRC[record_type] if record_type < len(_START_CRC) else -1
                if start_crc < 0 or length > MAX_PAYLOAD_BYTES or stop > end:
                    break
                # A short payload is checked as a copy (cheaper, compiled, than a view).
                actual: int = _crc(data[start:stop] if length <= _COPY_MAX else view[start:stop],
                                   start_crc)
                if actual != checksum or (base + offset == 0 and record_type != _SEGMENT_HEADER):
                    break
                if record_type == _COMMAND:
                    self._command(path, base + offset, data, start, stop)
                elif record_type == _COMMAND_BATCH:
                    self._batch(path, base + offset, data, start, stop)
                elif record_type == _CHECKPOINT:
                    self._checkpoint(data[start:stop])
                offset = stop
        return offset

    def _next(self, path: Path, at: int, seq: int, epoch: int) -> None:
        expected = self.last_seq + 1
        if seq != expected:
            raise WalCorruptionError(path, at, f"seq {seq} where {expected} was expected")
        self.newest_epoch = max(self.newest_epoch, epoch)

    def _apply(self, seq: int, command: Command) -> None:
        self.engine.apply(command)
        self.last_seq = seq
        self.commands += 1
        snapshots = self._snapshots
        if snapshots is not None and seq in snapshots:
            recorded = snapshots[seq]
            if not self.engine.hash_matches(recorded):
                raise DivergenceError(seq, recorded, self.engine.state_hash())
            self.snapshots_verified += 1

    def _command(self, path: Path, at: int, data: bytes, start: int, stop: int) -> None:
        """A SequencedCommand record at data[start:stop] (frame at file offset ``at``)."""
        seq, ts_ns, epoch, kind, a, b = _command_head(data, start, stop)
        if not kind:
            self._parsed_command(path, at, data[start:stop])
            return
        if seq <= self.after_seq:
            return
        mapped = self._request(data, a, b, kind, ts_ns)
        if mapped is None:
            self._parsed_command(path, at, data[start:stop])
            return
        self._next(path, at, seq, epoch)
        self._apply(seq, _command_of(mapped, seq))

    def logged_command(self, payload: bytes) -> Command | Unsequenced | None:
        """The mapped command of one SequencedCommand record, as replay applies it;
        None: a shape this pass leaves to protobuf."""
        _, ts_ns, _, kind, a, b = _command_head(payload, 0, len(payload))
        return self._request(payload, a, b, kind, ts_ns) if kind else None

    def _request(self, data: bytes, start: int, end: int, kind: int,
                 ts_ns: int) -> Command | Unsequenced | None:
        if kind == _PLACE_FIELD:
            return self._place(data, start, end, ts_ns)
        return self._cancel(data, start, end, ts_ns, with_ids=kind == _CANCEL_FIELD)

    def _place(self, data: bytes, start: int, end: int,
               ts_ns: int) -> Command | Unsequenced | None:
        """The mapped PlaceOrderRequest in data[start:end]; None: a shape left to
        protobuf (``request_wire.place_request``'s rules)."""
        req = PlaceRequest()
        if not place_request(data, start, end, req):
            return None
        return command_mapping.place_order(self.engine, req, ts_ns)

    def _cancel(self, data: bytes, start: int, end: int, ts_ns: int, *,
                with_ids: bool) -> Command | Unsequenced | None:
        """The mapped CancelOrderRequest (``with_ids``) or CancelAllRequest in
        data[start:end]; None: a shape left to protobuf."""
        req = CancelRequest()
        if not cancel_request(data, start, end, req, with_ids):
            return None
        if not with_ids:
            return command_mapping.cancel_all(self.engine, req, ts_ns)
        return command_mapping.cancel_order(self.engine, req, ts_ns)

    def _parsed_command(self, path: Path, at: int, payload: bytes) -> None:
        """A command record of a shape the fast path leaves alone (balance, mode)."""
        entry = wal_pb2.SequencedCommand.FromString(payload)
        if entry.seq <= self.after_seq:
            return
        self._next(path, at, entry.seq, entry.epoch)
        if entry.HasField("balance"):
            part, offset = entry.balance.source_partition, entry.balance.source_offset
            self.positions[part] = max(self.positions.get(part, 0), offset + 1)
        self._apply(entry.seq, to_command(self.engine, entry))

    def _batch(self, path: Path, at: int, data: bytes, start: int, stop: int) -> None:
        """A SequencedBatch record at data[start:stop]: its sequenced commands, decoded
        from the request bytes as logged (``request_wire.sequenced_batch``'s rules)."""
        head = batch_head(data, start, stop)
        if head is None:
            self._parsed_batch(path, at, data[start:stop])
            return
        first, ts_ns, epoch, count, skipped, items_start, items_end = head
        if not self._batch_starts(path, at, first, count, epoch):
            return
        items = batch_items(data, items_start, items_end) if items_end > items_start else []
        if items is None:
            self._parsed_batch(path, at, data[start:stop])
            return
        logged = LoggedBatch(first, ts_ns, epoch, count, skipped=skipped, items=items)
        for entry in logged_batch_commands(self.engine, logged, self.after_seq):
            self._apply(entry.seq, entry.command)

    def _parsed_batch(self, path: Path, at: int, payload: bytes) -> None:
        batch = wal_pb2.SequencedBatch.FromString(payload)
        if self._batch_starts(path, at, batch.first_seq, batch.count, batch.epoch):
            for replayed in batch_commands(self.engine, batch, self.after_seq):
                self._apply(replayed.seq, replayed.command)

    def _batch_starts(self, path: Path, at: int, first: int, count: int,
                      epoch: int) -> bool:
        """False: the batch ends at or before ``after_seq`` (skip it). A batch may start
        before it (it straddles the snapshot) only as the first record replayed."""
        if first + count - 1 <= self.after_seq:
            return False
        expected = self.last_seq + 1
        straddles = expected == self.after_seq + 1 and first < expected
        if first != expected and not straddles:
            raise WalCorruptionError(
                path, at, f"batch from seq {first} where {expected} was expected")
        self.newest_epoch = max(self.newest_epoch, epoch)
        return True

    def _checkpoint(self, payload: bytes) -> None:
        checkpoint = wal_pb2.Checkpoint.FromString(payload)
        seq = checkpoint.seq
        if seq <= self.after_seq or not self._verify:
            return
        if self._only is not None and seq != self._only:
            self.checkpoints_skipped += 1
        elif seq == self.last_seq:
            recorded = checkpoint.state_hash.hex()
            if not self.engine.hash_matches(recorded):  # any hash version
                raise DivergenceError(seq, recorded, self.engine.state_hash())
            self.checkpoints_verified += 1


def _command_head(data: bytes, start: int, stop: int) -> tuple[int, int, int, int, int, int]:
    """(seq, ts_ns, epoch, request field, request start, request end) of the
    SequencedCommand in data[start:stop]; request field 0: a shape left to protobuf
    (balance, symbol mode, a oneof set twice, a known field with another wire type)."""
    seq = ts_ns = epoch = 0
    kind = a = b = 0
    pos = start
    while pos < stop:
        key, pos = varint(data, pos)
        field = key >> 3
        wire = key & 7
        if 1 <= field <= 3:
            if wire != _VARINT:
                return 0, 0, 0, 0, 0, 0
            value, pos = varint(data, pos)
            if field == 1:
                seq = value
            elif field == 2:
                ts_ns = int64(value)
            else:
                epoch = value
        elif _PLACE_FIELD <= field <= _LAST_COMMAND_FIELD:
            if field > _CANCEL_ALL_FIELD or wire != _LEN or kind:
                return 0, 0, 0, 0, 0, 0
            kind = field
            a, pos = span(data, pos, stop)
            b = pos
        else:
            pos = skip_field(data, pos, wire, stop)
            if pos < 0:
                return 0, 0, 0, 0, 0, 0
    if pos != stop:
        return 0, 0, 0, 0, 0, 0
    return seq, ts_ns, epoch, kind, a, b


def _command_of(mapped: Command | Unsequenced, seq: int) -> Command:
    if isinstance(mapped, Unsequenced):
        raise ValueError(f"WAL seq {seq}: logged request no longer maps: {mapped.reason}")
    return mapped
