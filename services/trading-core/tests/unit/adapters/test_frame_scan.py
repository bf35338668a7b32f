"""The compiled frame walk finds the same frames as the detailed scan and stops where it
stops: at the first frame that does not check out."""

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.frame_scan import wanted_frames
from exchange_core.adapters.wal_frame import (
    HEADER_SIZE,
    MAX_PAYLOAD_BYTES,
    TYPE_CRC,
    RecordType,
    decode_frame_at,
    encode_frame,
)
from exchange_core.adapters.wal_segment import header_frame

_COMMANDS = frozenset((int(RecordType.COMMAND),))


Walk = tuple[list[tuple[int, int, int, int]], int]


def _walk(data: bytes, wanted: frozenset[int] = _COMMANDS) -> Walk:
    return wanted_frames(data, wanted, TYPE_CRC, MAX_PAYLOAD_BYTES,
                         int(RecordType.SEGMENT_HEADER))


def _segment(count: int) -> bytes:
    parts = [header_frame("s", 1, 1)]
    for seq in range(1, count + 1):
        command = wal_pb2.SequencedCommand(seq=seq)
        command.cancel_all.symbol = f"S{seq}"
        parts.append(encode_frame(RecordType.COMMAND, command.SerializeToString()))
        parts.append(encode_frame(RecordType.EVENTS, wal_pb2.CommandEvents(
            seq=seq).SerializeToString()))
    return b"".join(parts)


def test_wanted_frames_are_found_with_their_payload_bounds() -> None:
    data = _segment(20)
    frames, stopped = _walk(data)
    assert stopped == len(data)
    assert len(frames) == 20
    for offset, record_type, start, stop in frames:
        frame = decode_frame_at(data, offset)
        assert record_type == RecordType.COMMAND and start == offset + HEADER_SIZE
        assert bytes(frame.payload) == data[start:stop]  # type: ignore[union-attr]
    seqs = [wal_pb2.SequencedCommand.FromString(data[a:b]).seq for _, _, a, b in frames]
    assert seqs == list(range(1, 21))


def test_the_walk_stops_at_a_frame_whose_crc_fails() -> None:
    data = bytearray(_segment(10))
    frames, _ = _walk(bytes(data))
    bad_offset, _, start, _ = frames[6]
    data[start] ^= 0xFF
    found, stopped = _walk(bytes(data))
    assert stopped == bad_offset
    assert [f[0] for f in found] == [f[0] for f in frames[:6]]


def test_the_walk_stops_at_a_torn_tail_and_at_a_segment_without_a_header() -> None:
    data = _segment(5)
    _, stopped = _walk(data[:-4])
    assert stopped < len(data) - 4
    headless = data[len(header_frame("s", 1, 1)):]
    assert _walk(headless) == ([], 0)
