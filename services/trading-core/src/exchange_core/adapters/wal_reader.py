"""Reading the WAL: replay input for recovery and the tail that the outbox follows."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, cast, overload

import crc32c

from exchange.core.v1 import wal_pb2
from exchange.v1 import trading_core_pb2
from exchange_core.adapters.request_wire import (
    LoggedBatch,
    LoggedCommand,
    sequenced_batch,
    sequenced_command,
)
from exchange_core.adapters.wal_frame import (
    HEADER,
    HEADER_SIZE,
    MAX_PAYLOAD_BYTES,
    TYPE_CRC,
    Frame,
    RecordType,
    decode_frame_at,
)
from exchange_core.adapters.wal_segment import (
    WalCorruptionError,
    complete_prefix_bytes,
    iter_frames,
    iter_payloads,
    list_segments,
    scan_segment,
    segment_first_seq,
    truncate_torn_tail,
)

WalEntry = wal_pb2.SequencedCommand | wal_pb2.Checkpoint
WalRecord = wal_pb2.SequencedCommand | wal_pb2.SequencedBatch | wal_pb2.Checkpoint
_FIRST_READ_BYTES = 64 * 1024
_REPLAYED = frozenset((int(RecordType.COMMAND), int(RecordType.CHECKPOINT),
                       int(RecordType.COMMAND_BATCH)))


def repair_tail(wal_dir: Path) -> None:
    """On open: truncate a torn tail of the newest segment, a frame or a group cut short
    (corruption elsewhere raises)."""
    segments = list_segments(wal_dir)
    if segments:
        newest = segments[-1]
        data = newest.read_bytes()
        if complete_prefix_bytes(data) < len(data):  # only then build the detailed scan
            truncate_torn_tail(scan_segment(newest, is_last=True))


def segments_from(wal_dir: Path, after_seq: int) -> list[Path]:
    """The segments that may hold commands with seq > after_seq."""
    segments = list_segments(wal_dir)
    start = 0
    for index, path in enumerate(segments):
        first = segment_first_seq(path)
        if first is not None and first <= after_seq + 1:
            start = index
    return segments[start:]


@overload
def read_records(
    wal_dir: Path, after_seq: int = 0, *, fast_commands: Literal[False] = False
) -> Iterator[WalRecord]: ...
@overload
def read_records(
    wal_dir: Path, after_seq: int = 0, *, fast_commands: bool
) -> Iterator[WalRecord | LoggedCommand | LoggedBatch]: ...
def read_records(
    wal_dir: Path, after_seq: int = 0, *, fast_commands: bool = False
) -> Iterator[WalRecord | LoggedCommand | LoggedBatch]:
    """Command, batch and checkpoint records holding seqs > after_seq, in order, seq
    continuity checked. A batch may start at or before ``after_seq`` (its first commands
    then precede the snapshot): its reader skips those. With ``fast_commands``, command
    and batch records that ``request_wire`` can decode come as ``LoggedCommand`` /
    ``LoggedBatch`` (replay)."""
    expected = after_seq + 1
    parse_command = wal_pb2.SequencedCommand.FromString
    parse_batch = wal_pb2.SequencedBatch.FromString
    parse_checkpoint = wal_pb2.Checkpoint.FromString
    command_type, batch_type = int(RecordType.COMMAND), int(RecordType.COMMAND_BATCH)
    segments = segments_from(wal_dir, after_seq)
    last = len(segments) - 1
    for index, path in enumerate(segments):
        for offset, record_type, payload in iter_payloads(
            path, is_last=index == last, wanted=_REPLAYED
        ):
            if record_type == command_type:
                if after_seq and 0 < leading_seq(payload) <= after_seq:  # skip unparsed
                    continue
                command: wal_pb2.SequencedCommand | LoggedCommand | None = None
                if fast_commands:
                    command = sequenced_command(bytes(payload))
                if command is None:
                    command = parse_command(cast(bytes, payload))  # a view: no copy
                if command.seq <= after_seq:
                    continue
                if command.seq != expected:
                    raise WalCorruptionError(
                        path, offset, f"seq {command.seq} where {expected} was expected"
                    )
                expected += 1
                yield command
            elif record_type == batch_type:
                batch: wal_pb2.SequencedBatch | LoggedBatch | None = None
                if fast_commands:
                    batch = sequenced_batch(bytes(payload))
                if batch is None:
                    batch = parse_batch(cast(bytes, payload))
                first, end = batch.first_seq, batch.first_seq + batch.count
                if end - 1 <= after_seq:
                    continue
                straddles = expected == after_seq + 1 and first < expected
                if first != expected and not straddles:
                    raise WalCorruptionError(
                        path, offset, f"batch from seq {first} where {expected} was expected"
                    )
                expected = end
                yield batch
            else:
                checkpoint = parse_checkpoint(cast(bytes, payload))
                if checkpoint.seq > after_seq:
                    yield checkpoint


def read_entries(wal_dir: Path, after_seq: int = 0) -> Iterator[WalEntry]:
    """Commands and checkpoints with seq > after_seq, in order, seq continuity checked;
    a batch record reads as one SequencedCommand per sequenced command (for tools and
    tests; replay maps batches directly)."""
    for record in read_records(wal_dir, after_seq):
        if not isinstance(record, wal_pb2.SequencedBatch):
            yield record
            continue
        for seq, item in sequenced_items(record):
            if seq > after_seq:
                command = wal_pb2.SequencedCommand(seq=seq, ts_ns=record.ts_ns,
                                                   epoch=record.epoch)
                which = item.WhichOneof("command")
                if which is not None:
                    getattr(command, which).CopyFrom(getattr(item, which))
                yield command


def sequenced_items(
    batch: wal_pb2.SequencedBatch,
) -> Iterator[tuple[int, trading_core_pb2.SubmitStreamRequest]]:
    """(seq, request) of every sequenced command of a logged batch, in seq order."""
    skipped = set(batch.skipped)
    items = batch.batch.commands
    if len(items) - len(skipped) != batch.count:
        raise ValueError(f"WAL batch at seq {batch.first_seq}: {len(items)} commands, "
                         f"{len(skipped)} skipped, but {batch.count} sequenced")
    seq = batch.first_seq
    for index, item in enumerate(items):
        if index not in skipped:
            yield seq, item
            seq += 1


def newest_checkpoint_seq(wal_dir: Path, after_seq: int = 0) -> int | None:
    """Seq of the newest checkpoint record after ``after_seq`` (None: there is none).

    Walks frame headers from the newest segment backwards and parses only checkpoint
    frames whose CRC checks out; a bad frame ends a segment's walk (recovery itself
    classifies it). Cheap next to a replay: no command is decoded.
    """
    segments = segments_from(wal_dir, after_seq)
    for path in reversed(segments):
        data = path.read_bytes()
        view = memoryview(data)
        newest: int | None = None
        offset = 0
        while offset + HEADER_SIZE <= len(data):
            length, checksum, record_type = HEADER.unpack_from(data, offset)
            start = offset + HEADER_SIZE
            if length > MAX_PAYLOAD_BYTES or start + length > len(data):
                break
            if record_type == RecordType.CHECKPOINT:
                payload = view[start:start + length]
                if crc32c.crc32c(payload, TYPE_CRC[record_type]) != checksum:
                    break
                seq = wal_pb2.Checkpoint.FromString(cast(bytes, payload)).seq
                if seq > after_seq:
                    newest = seq
            offset = start + length
        if newest is not None:
            return newest
    return None


def read_events(wal_dir: Path, after_seq: int = 0) -> Iterator[wal_pb2.CommandEvents]:
    for _path, frame in iter_frames(segments_from(wal_dir, after_seq)):
        if frame.record_type == RecordType.EVENTS:
            events = wal_pb2.CommandEvents.FromString(_bytes(frame))
            if events.seq > after_seq:
                yield events


class SegmentFollower:
    """Follows the WAL's segment files from a seq in bounded chunks: what the outbox's
    tailers share (``WalTailer`` here, the compiled-scan ``event_tailer.EventTailer``).

    An incomplete frame at the end of the readable data means "not written yet": the
    tailer stops there and reads on from it at the next poll. So do zeros: the newest
    segment is preallocated (``wal_writer``), so reads past the last frame return zeros,
    not end-of-file; the read size adapts (small while caught up, growing while whole
    windows are consumed) so a caught-up tailer does not copy a MiB of zeros per poll.
    """

    def __init__(
        self,
        wal_dir: Path,
        after_seq: int,
        durable_seq: Callable[[], int],
        *,
        chunk_bytes: int = 1024 * 1024,
    ) -> None:
        self._dir = wal_dir
        self._after_seq = after_seq
        self._durable_seq = durable_seq
        self._chunk_bytes = chunk_bytes
        self._read_bytes = min(chunk_bytes, _FIRST_READ_BYTES)
        segments = segments_from(wal_dir, after_seq)
        self._path: Path | None = segments[0] if segments else None
        self._offset = 0

    def _window(self, path: Path) -> bytes:
        """The next chunk of ``path`` from the offset; a first frame larger than a chunk
        is read whole."""
        with open(path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read(self._read_bytes)
            if len(data) == self._read_bytes and len(data) >= HEADER_SIZE:
                first = HEADER_SIZE + int.from_bytes(data[:4], "little")
                if len(data) < first <= HEADER_SIZE + MAX_PAYLOAD_BYTES:
                    handle.seek(self._offset)
                    data = handle.read(first)
        return data

    def _consumed(self, consumed: int, window: int) -> None:
        """Move the offset past ``consumed`` bytes of a ``window``-byte read; size the
        next read: double it while reads are used up, back to small once caught up."""
        self._offset += consumed
        if consumed * 2 >= window:
            self._read_bytes = min(self._chunk_bytes, self._read_bytes * 2)
        else:
            self._read_bytes = min(self._chunk_bytes, _FIRST_READ_BYTES)

    def _advance_segment(self, path: Path) -> bool:
        """Move to the next segment once this one is fully read and a newer one exists."""
        if self._offset < os.path.getsize(path):
            return False
        newer = [p for p in list_segments(self._dir) if p.name > path.name]
        if not newer:
            return False
        self._path, self._offset = newer[0], 0
        return True

    def _first_segment(self) -> Path | None:
        segments = segments_from(self._dir, self._after_seq)
        return segments[0] if segments else None


class WalTailer(SegmentFollower):
    """Follows the WAL from a seq, never past the durable seq, as protobuf messages (the
    reference the outbox's compiled ``EventTailer`` is tested against; tools)."""

    def poll(self, max_records: int) -> list[wal_pb2.CommandEvents]:
        """Up to ``max_records`` durable CommandEvents after the last one returned."""
        out: list[wal_pb2.CommandEvents] = []
        while len(out) < max_records:
            if self._path is None:
                self._path = self._first_segment()
                if self._path is None:
                    return out
            durable = self._durable_seq()
            progressed = self._read_chunk(self._path, out, max_records, durable)
            if not progressed and not self._advance_segment(self._path):
                return out
        return out

    def _read_chunk(
        self, path: Path, out: list[wal_pb2.CommandEvents], limit: int, durable: int
    ) -> bool:
        data = self._window(path)
        offset = 0
        progressed = False
        while offset < len(data) and len(out) < limit:
            frame = decode_frame_at(data, offset)
            if not isinstance(frame, Frame):
                break  # incomplete (being written) or a chunk boundary
            if frame.record_type == RecordType.EVENTS:
                # A command and its events are appended together, so the events' seq
                # tells whether the fsync that holds them has completed.
                seq = leading_seq(_bytes(frame))
                if seq > durable:
                    break
                if seq > self._after_seq:
                    out.append(wal_pb2.CommandEvents.FromString(_bytes(frame)))
                    self._after_seq = seq
            offset = frame.end
            progressed = True
        self._consumed(offset, len(data))
        return progressed


def _bytes(frame: Frame) -> bytes:
    # A zero-copy view: protobuf parsing and CRC take any buffer (the stubs say bytes).
    return cast(bytes, frame.payload)


def leading_seq(payload: bytes | memoryview) -> int:
    """Field 1 (varint ``seq``) of a CommandEvents/SequencedCommand payload, unparsed.

    Both messages declare ``seq`` as field 1 and protobuf writes fields in number order,
    so it is the first key (0x08) when non-zero.
    """
    if not payload or payload[0] != 0x08:
        return 0
    value, shift = 0, 0
    for byte in payload[1:11]:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    return 0
