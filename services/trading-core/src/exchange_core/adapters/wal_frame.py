"""WAL frames: u32 length, u32 CRC32C(type + payload), u8 type, payload (little-endian).

The CRC covers the type byte so that a zeroed region (a torn tail on a filesystem that
extended the file before writing it) never reads as a valid frame.
"""

import struct
from dataclasses import dataclass
from enum import IntEnum

import crc32c

HEADER = struct.Struct("<IIB")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024


class RecordType(IntEnum):
    SEGMENT_HEADER = 1
    COMMAND = 2
    EVENTS = 3
    CHECKPOINT = 4
    COMMAND_BATCH = 5  # a SequencedBatch: the commands of one TradingCoreBatch message


_VALID_TYPES = frozenset(int(t) for t in RecordType)
# CRC32C of the type byte alone, the starting value of each frame's checksum.
TYPE_CRC: dict[int, int] = {int(t): crc32c.crc32c(bytes((t,))) for t in RecordType}
_TYPE_CRC = TYPE_CRC


def encode_frame(record_type: RecordType, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"WAL payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    checksum = crc32c.crc32c(payload, _TYPE_CRC[record_type])
    return HEADER.pack(len(payload), checksum, record_type) + payload


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    record_type: RecordType
    payload: bytes | memoryview  # a view into the segment's bytes when read from a file

    @property
    def end(self) -> int:
        return self.offset + HEADER_SIZE + len(self.payload)


def decode_frame_at(buf: bytes | memoryview, offset: int) -> Frame | str:
    """The frame starting at ``offset``, or the reason it is not a valid frame."""
    remaining = len(buf) - offset
    if remaining < HEADER_SIZE:
        return f"incomplete frame header ({remaining} bytes)"
    length, checksum, type_byte = HEADER.unpack_from(buf, offset)
    if type_byte not in _VALID_TYPES:
        return f"unknown record type {type_byte}"
    if length > MAX_PAYLOAD_BYTES:
        return f"implausible length {length}"
    start = offset + HEADER_SIZE
    if start + length > len(buf):
        return f"incomplete payload ({len(buf) - start} of {length} bytes)"
    payload = memoryview(buf)[start : start + length]
    if crc32c.crc32c(payload, _TYPE_CRC[type_byte]) != checksum:
        return "CRC mismatch"
    return Frame(offset, RecordType(type_byte), payload)


def find_valid_frame_after(buf: bytes | memoryview, offset: int) -> int | None:
    """Offset of the first valid frame strictly after ``offset`` (byte-by-byte search).

    Used only on the error path, to tell a torn tail (nothing valid follows) from
    corruption in the middle of the log (valid records follow the bad one).
    """
    # A frame's type byte is not zero, so none starts in (or right before) a run of zeros
    # that ends the buffer: a preallocated segment's unused space is not searched.
    data = bytes(buf) if isinstance(buf, memoryview) else buf
    last = min(len(data) - HEADER_SIZE + 1, len(data.rstrip(b"\x00")) - 8)
    for candidate in range(offset + 1, last):
        if buf[candidate + 8] not in _VALID_TYPES:
            continue
        if isinstance(decode_frame_at(buf, candidate), Frame):
            return candidate
    return None
