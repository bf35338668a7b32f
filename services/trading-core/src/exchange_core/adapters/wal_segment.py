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
"""

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import crc32c

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.frame_scan import wanted_frames
from exchange_core.adapters.wal_frame import (
    HEADER,
    HEADER_SIZE,
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
    return SegmentScan(path, frames, offset, len(data), reason)


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
    frames, offset = wanted_frames(data, wanted, TYPE_CRC, MAX_PAYLOAD_BYTES,
                                   int(RecordType.SEGMENT_HEADER))
    for frame_offset, record_type, start, stop in frames:
        yield frame_offset, record_type, view[start:stop]
    end = len(data)
    if offset < end:
        # Raises on corruption; a torn tail of the newest segment ends the segment here.
        scan_segment(path, is_last=is_last)


def valid_prefix_bytes(data: bytes) -> int:
    """Length of the leading run of well-formed frames of ``data`` (fast, no objects)."""
    end = len(data)
    view = memoryview(data)
    unpack_from, crc, type_crc = HEADER.unpack_from, crc32c.crc32c, TYPE_CRC
    offset = 0
    while offset + HEADER_SIZE <= end:
        length, checksum, record_type = unpack_from(data, offset)
        start = offset + HEADER_SIZE
        start_crc = type_crc.get(record_type)
        if start_crc is None or length > MAX_PAYLOAD_BYTES or start + length > end:
            break
        if crc(view[start:start + length], start_crc) != checksum:
            break
        offset = start + length
    return offset


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
