from exchange_core.adapters.wal_frame import (
    HEADER_SIZE,
    Frame,
    RecordType,
    decode_frame_at,
    encode_frame,
    find_valid_frame_after,
)


def test_a_frame_round_trips_with_its_type_and_payload() -> None:
    data = encode_frame(RecordType.COMMAND, b"hello")
    frame = decode_frame_at(data, 0)
    assert isinstance(frame, Frame)
    assert (frame.record_type, frame.payload) == (RecordType.COMMAND, b"hello")
    assert frame.end == len(data)


def test_a_flipped_payload_bit_fails_the_crc() -> None:
    data = bytearray(encode_frame(RecordType.COMMAND, b"hello"))
    data[-1] ^= 0x01
    assert decode_frame_at(bytes(data), 0) == "CRC mismatch"


def test_the_crc_covers_the_type_byte() -> None:
    data = bytearray(encode_frame(RecordType.COMMAND, b"hello"))
    data[8] = RecordType.EVENTS
    assert decode_frame_at(bytes(data), 0) == "CRC mismatch"


def test_zeroed_bytes_never_read_as_a_frame() -> None:
    zeros = bytes(64)
    assert isinstance(decode_frame_at(zeros, 0), str)
    assert find_valid_frame_after(zeros, 0) is None


def test_incomplete_header_and_payload_are_reported_as_such() -> None:
    data = encode_frame(RecordType.COMMAND, b"0123456789")
    assert "incomplete frame header" in str(decode_frame_at(data[: HEADER_SIZE - 1], 0))
    assert "incomplete payload" in str(decode_frame_at(data[:-3], 0))


def test_a_valid_frame_after_garbage_is_found() -> None:
    good = encode_frame(RecordType.EVENTS, b"x" * 20)
    data = b"\x07" * 13 + good
    assert find_valid_frame_after(data, 0) == 13
