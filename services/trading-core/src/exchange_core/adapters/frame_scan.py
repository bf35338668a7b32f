"""Walking a WAL segment's frames in compiled code (mypyc): the generic reader's loop.

(``wal_reader.read_records``: tools, ``replay_feeder``; recovery itself replays through
``segment_replay``, which walks, checks and applies in one pass.)

A segment holds two frames per command (the command and its events), each CRC-checked
on replay; in interpreted Python the walk itself (header unpack, slice, compare) cost
more than the CRC. ``wanted_frames`` returns where the wanted frames' payloads are and
where the run of well-formed frames ends; the caller yields the payloads and classifies
whatever stopped the walk (``wal_segment.scan_segment``), exactly as before.
"""

import crc32c

_HEADER_SIZE = 9  # u32 length, u32 crc32c(type + payload), u8 type (little-endian)


def _u32(data: bytes, at: int) -> int:
    return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)


def wanted_frames(
    data: bytes, wanted: frozenset[int], type_crc: dict[int, int], max_payload: int,
    header_type: int,
) -> tuple[list[tuple[int, int, int, int]], int]:
    """((offset, record type, payload start, payload end) of each wanted frame, offset
    where the walk stopped). The walk stops at the first frame of an unknown type, too
    long, running past the end, failing its CRC, or (at offset 0) not a segment header;
    the stop offset equals ``len(data)`` when every frame checked out."""
    view = memoryview(data)
    end = len(data)
    out: list[tuple[int, int, int, int]] = []
    offset = 0
    while offset + _HEADER_SIZE <= end:
        length = _u32(data, offset)
        checksum = _u32(data, offset + 4)
        record_type = data[offset + 8]
        start = offset + _HEADER_SIZE
        stop = start + length
        start_crc = type_crc.get(record_type)
        if start_crc is None or length > max_payload or stop > end:
            break
        if crc32c.crc32c(view[start:stop], start_crc) != checksum or (
            offset == 0 and record_type != header_type
        ):
            break
        if record_type in wanted:
            out.append((offset, record_type, start, stop))
        offset = stop
    return out, offset
