"""WAL segment files: naming, reading, and torn-tail handling on open.

A segment is named after the first command seq it may hold
(``wal-00000000000000000001.seg``) and starts with a SegmentHeader frame. Only the newest
segment may end in a torn or corrupt tail (the writer fsyncs a segment before it starts
the next one); such a tail is truncated with a logged reason. A bad frame followed by a
valid one, or any bad frame in an older segment, is corruption: a hard error that names
the file and offset.

The newest segment may also end in zeros: the unused part of a preallocated segment
(``wal_writer``) when the writer did not close it. That is the end of the log, not
damage; it is cut like a torn tail, logged as what it is.

A command record and its events records are one write (``wal_journal``): the log ends
after the last *complete* group. A write cut between a command record and the last of
its events records (each frame whole, the group not) is a torn tail too, and the cut
goes back to the command record: else the command would be replayed into the state
while its events, never in the log, would never reach Kafka.
"""

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.frame_scan import wanted_frames
from exchange_core.adapters.wal_frame import (
    MAX_PAYLOAD_BYTES,
    TYPE_CRC,
    Frame,
    RecordType,
    decode_frame_at,
    encode_frame,
    find_valid_frame_after,
)

log = logging.getLogger(__name__)

SEGMENT_FORMAT_VERSION = 1
ZEROS_REASON = "unused preallocated space (zeros) after the last record"
_NAME = re.compile(r"^wal-(\d{20})\.seg$")
_COMMAND_TYPES = frozenset((int(RecordType.COMMAND), int(RecordType.COMMAND_BATCH)))
_GROUP_TYPES = _COMMAND_TYPES | {int(RecordType.EVENTS)}


class WalCorruptionError(Exception):
    """A bad record with valid records after it, or in a sealed segment (not retryable)."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"WAL corruption in {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


def segment_name(first_seq: int) -> str:
    return f"wal-{first_seq:020d}.seg"


def segment_first_seq(path: Path) -> int | None:
    match = _NAME.match(path.name)
    return int(match.group(1)) if match else None


def list_segments(wal_dir: Path) -> list[Path]:
    """Segment files in seq order."""
    found = [(seq, p) for p in wal_dir.iterdir() if (seq := segment_first_seq(p)) is not None]
    return [p for _, p in sorted(found)]


def header_frame(shard_id: str, first_seq: int, epoch: int) -> bytes:
    header = wal_pb2.SegmentHeader(
        format_version=SEGMENT_FORMAT_VERSION, shard_id=shard_id, first_seq=first_seq, epoch=epoch
    )
    return encode_frame(RecordType.SEGMENT_HEADER, header.SerializeToString())


@dataclass(frozen=True)
class SegmentScan:
    path: Path
    frames: list[Frame]
    valid_bytes: int
    file_bytes: int
    tail_reason: str | None

    @property
    def is_torn(self) -> bool:
        return self.valid_bytes < self.file_bytes


def scan_segment(path: Path, *, is_last: bool) -> SegmentScan:
    """Read every frame of ``path``; classify a bad frame as torn tail or corruption."""
    data = path.read_bytes()
    frames: list[Frame] = []
    offset = 0
    reason: str | None = None
    while offset < len(data):
        decoded = decode_frame_at(data, offset)
        if isinstance(decoded, str):
            reason = decoded
            break
        frames.append(decoded)
        offset = decoded.end
    if reason is not None:
        zeros = is_zeros(data, offset)
        if zeros:
            reason = ZEROS_REASON
        later = None if zeros else find_valid_frame_after(data, offset)
        if later is not None:
            raise WalCorruptionError(
                path, offset, f"{reason}; a valid record follows at offset {later}"
            )
        if not is_last:
            raise WalCorruptionError(path, offset, f"{reason} in a sealed segment")
    if frames and frames[0].record_type != RecordType.SEGMENT_HEADER:
        raise WalCorruptionError(path, 0, "segment does not start with a header")
    cut = open_group(
        (f.offset, int(f.record_type), f.payload) for f in reversed(frames))
    if cut is not None:
        if not is_last:
            raise WalCorruptionError(path, cut[0], f"{cut[1]} in a sealed segment")
        offset = cut[0]
        reason = cut[1] if reason is None else f"{reason}; {cut[1]}"
        frames = [f for f in frames if f.offset < offset]
    return SegmentScan(path, frames, offset, len(data), reason)


def open_group(
    frames_backwards: Iterable[tuple[int, int, bytes | memoryview]],
) -> tuple[int, str] | None:
    """(offset, reason) of the last command record when fewer events records follow it
    than it has commands (a write cut inside the group); None when the group is whole.
    ``frames_backwards``: (offset, record type, payload) from the last frame back."""
    events = 0
    for offset, record_type, payload in frames_backwards:
        if record_type == RecordType.EVENTS:
            events += 1
        elif record_type in _COMMAND_TYPES:
            expected = 1
            if record_type == RecordType.COMMAND_BATCH:
                expected = wal_pb2.SequencedBatch.FromString(bytes(payload)).count
            if events >= expected:
                return None
            return offset, (f"the command record at offset {offset} is followed by "
                            f"{events} of its {expected} events records (a write cut "
                            "inside the group)")
        elif record_type == RecordType.SEGMENT_HEADER:
            return None
    return None


def complete_prefix_bytes(data: bytes) -> int:
    """Length of the leading run of well-formed frames of ``data`` that ends with a whole
    group (a command record and all its events records). Frames walked by compiled
    code; used to tell, without objects per frame, whether a segment needs a scan."""
    frames, end = wanted_frames(data, _GROUP_TYPES, TYPE_CRC, MAX_PAYLOAD_BYTES,
                                int(RecordType.SEGMENT_HEADER))
    cut = _open_group_of(data, frames)
    return end if cut is None else cut[0]


def _open_group_of(
    data: bytes, frames: list[tuple[int, int, int, int]],
) -> tuple[int, str] | None:
    """``open_group`` of frames as ``frame_scan.wanted_frames`` lists them (groups wanted)."""
    view = memoryview(data)
    return open_group((at, kind, view[start:stop]) for at, kind, start, stop in reversed(frames))


def readable_bytes(path: Path) -> int:
    """Where the log in the newest segment ends for a reader that does not repair it:
    after its last whole group (corruption raises, as ``scan_segment``)."""
    data = path.read_bytes()
    end = complete_prefix_bytes(data)
    return end if end == len(data) else scan_segment(path, is_last=True).valid_bytes


def is_zeros(data: bytes, offset: int) -> bool:
    """Is everything from ``offset`` on a zero byte (preallocated, never written)?"""
    return data.count(0, offset) == len(data) - offset


def truncate_torn_tail(scan: SegmentScan) -> None:
    """Cut a torn tail off the newest segment, durably, and say why in the log."""
    if not scan.is_torn:
        return
    dropped = scan.file_bytes - scan.valid_bytes
    if scan.tail_reason == ZEROS_REASON:
        log.info("WAL newest segment trimmed: %s at offset %d (%d bytes): %s",
                 scan.path, scan.valid_bytes, dropped, scan.tail_reason)
    else:
        log.warning("WAL torn tail truncated: %s at offset %d (%d bytes dropped): %s",
                    scan.path, scan.valid_bytes, dropped, scan.tail_reason)
    with open(scan.path, "r+b") as handle:
        handle.truncate(scan.valid_bytes)
        handle.flush()
        os.fsync(handle.fileno())


def iter_payloads(
    path: Path, *, is_last: bool, wanted: frozenset[int]
) -> Iterator[tuple[int, int, memoryview]]:
    """(offset, record type, payload view) of the frames of ``path`` whose type is wanted.

    The generic reader's path (recovery itself uses ``segment_replay``): one read of the
    whole segment, frames walked by compiled code (``frame_scan``), every frame's CRC
    checked (wanted or not), and no object per skipped frame. The first frame that does
    not check out is classified by ``scan_segment`` (torn tail of the newest segment:
    stop there; otherwise raise).
    """
    data = path.read_bytes()
    view = memoryview(data)
    frames, offset = wanted_frames(data, wanted | _GROUP_TYPES, TYPE_CRC, MAX_PAYLOAD_BYTES,
                                   int(RecordType.SEGMENT_HEADER))
    limit = len(data)
    if offset < limit or _open_group_of(data, frames) is not None:
        # Raises on corruption; a torn tail of the newest segment (a bad frame, or a
        # group cut short) ends the segment there.
        limit = scan_segment(path, is_last=is_last).valid_bytes
    for frame_offset, record_type, start, stop in frames:
        if frame_offset >= limit:
            break
        if record_type in wanted:
            yield frame_offset, record_type, view[start:stop]


def iter_frames(paths: list[Path]) -> Iterator[tuple[Path, Frame]]:
    """Every frame of the given segments in order; the last may have a torn tail (ignored)."""
    for index, path in enumerate(paths):
        scan = scan_segment(path, is_last=index == len(paths) - 1)
        for frame in scan.frames:
            yield path, frame


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
