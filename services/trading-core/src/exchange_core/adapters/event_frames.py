"""The outbox's read of the WAL in compiled code (mypyc): CommandEvents frames -> Kafka
messages, without protobuf objects.

``scan_events`` walks the frames of a chunk of a segment exactly as the tailer did frame
by frame (stop at the first frame that is incomplete, of an unknown type, too long or
failing its CRC: "not written yet"), and turns each durable ``CommandEvents`` frame past
``after_seq`` into its messages: (topic, value = the event payload, key, timestamp ms).
The payload bytes are the ones the WAL holds, so the messages are byte-identical to what
parsing ``wal.v1.CommandEvents`` with protobuf gives (the tests compare both on the
command path's records). ``produce_all`` hands them to the producer (the one Python call
per message that remains, librdkafka's).
"""

from typing import Any, Final

import crc32c

_HEADER_SIZE: Final = 9  # u32 length, u32 crc32c(type + payload), u8 type (little-endian)
_EVENTS_TYPE: Final = 3
_MAX64: Final = 1 << 64
_MAX63: Final = 1 << 63
_NS_PER_MS: Final = 1_000_000

Message = tuple[str, bytes, bytes, int]
"""(topic, value, key, timestamp in ms) of one Kafka message."""


class Scan:
    """What ``scan_events`` found in a chunk."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.records = 0  # CommandEvents frames turned into messages
        self.last_seq = 0  # seq of the last of them (0: none)
        self.consumed = 0  # bytes of the chunk fully walked (the next read starts there)


def _u32(data: bytes, at: int) -> int:
    return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    """(value, offset after it); a varint running past ``end`` raises ValueError."""
    value = 0
    shift = 0
    while at < end:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            break
    raise ValueError("malformed CommandEvents: bad varint")


def _skip(data: bytes, at: int, end: int, wire_type: int) -> int:
    """Offset after an unknown field's value."""
    if wire_type == 0:
        return _varint(data, at, end)[1]
    if wire_type == 1:
        at += 8
    elif wire_type == 5:
        at += 4
    elif wire_type == 2:
        length, at = _varint(data, at, end)
        at += length
    else:
        raise ValueError(f"malformed CommandEvents: wire type {wire_type}")
    if at > end:
        raise ValueError("malformed CommandEvents: field runs past its message")
    return at


def _leading_seq(data: bytes, start: int, end: int) -> int:
    """Field 1 (``seq``) when it is the first key, as the writer puts it; else 0."""
    if start >= end or data[start] != 0x08:
        return 0
    return _varint(data, start + 1, end)[0]


class _Event:
    def __init__(self) -> None:
        self.topic = b""
        self.key = b""
        self.payload = b""


def _event(data: bytes, at: int, end: int) -> _Event:
    """An OutboxEvent's topic, key and payload (event_id and unknown fields skipped)."""
    event = _Event()
    while at < end:
        tag, at = _varint(data, at, end)
        field, wire_type = tag >> 3, tag & 7
        if wire_type == 2 and 1 <= field <= 4:
            length, at = _varint(data, at, end)
            stop = at + length
            if stop > end:
                raise ValueError("malformed OutboxEvent: field runs past its message")
            if field == 1:
                event.topic = data[at:stop]
            elif field == 2:
                event.key = data[at:stop]
            elif field == 4:
                event.payload = data[at:stop]
            at = stop
        else:
            at = _skip(data, at, end, wire_type)
    return event


def _command_events(data: bytes, at: int, end: int, topics: dict[bytes, str],
                    out: list[Message]) -> int:
    """Append the messages of the CommandEvents in ``data[at:end]``; return its seq."""
    seq = 0
    ts_ns = 0
    events: list[_Event] = []
    while at < end:
        tag, at = _varint(data, at, end)
        field, wire_type = tag >> 3, tag & 7
        if field == 3 and wire_type == 2:
            length, at = _varint(data, at, end)
            stop = at + length
            if stop > end:
                raise ValueError("malformed CommandEvents: event runs past the record")
            events.append(_event(data, at, stop))
            at = stop
        elif field == 1 and wire_type == 0:
            seq, at = _varint(data, at, end)
        elif field == 4 and wire_type == 0:
            ts_ns, at = _varint(data, at, end)
            if ts_ns >= _MAX63:
                ts_ns -= _MAX64  # int64: two's complement
        else:
            at = _skip(data, at, end, wire_type)
    timestamp_ms = ts_ns // _NS_PER_MS
    for event in events:
        topic = topics.get(event.topic)
        if topic is None:
            topic = topics[event.topic] = event.topic.decode()
        out.append((topic, event.payload, event.key, timestamp_ms))
    return seq


def scan_events(
    data: bytes, after_seq: int, durable: int, *, max_records: int,
    type_crc: dict[int, int], max_payload: int, topics: dict[bytes, str],
) -> Scan:
    """The messages of the CommandEvents frames in ``data`` with ``after_seq`` < seq <=
    ``durable``, at most ``max_records`` frames of them; the walk stops before the first
    frame that is not (yet) valid or whose events are not durable. ``topics`` caches the
    topic names (bytes -> str). Past a known position (``after_seq`` > 0) the seqs must
    follow on without a hole (ValueError: nothing past the hole is published)."""
    scan = Scan()
    view = memoryview(data)
    end = len(data)
    offset = 0
    out = scan.messages
    while offset + _HEADER_SIZE <= end and scan.records < max_records:
        length = _u32(data, offset)
        checksum = _u32(data, offset + 4)
        record_type = data[offset + 8]
        start = offset + _HEADER_SIZE
        stop = start + length
        start_crc = type_crc.get(record_type)
        if start_crc is None or length > max_payload or stop > end:
            break  # incomplete (being written) or a chunk boundary
        if crc32c.crc32c(view[start:stop], start_crc) != checksum:
            break
        if record_type == _EVENTS_TYPE:
            # A command and its events are appended together, so the events' seq tells
            # whether the fsync that holds them has completed.
            seq = _leading_seq(data, start, stop)
            if seq > durable:
                break
            if seq > after_seq:
                if after_seq and seq != after_seq + 1:
                    # Every sequenced command has its events record: a hole means the
                    # log lost events. Publishing on would leave a gap on Kafka.
                    raise ValueError(f"WAL events of seq {seq} follow those of seq "
                                     f"{after_seq}: seqs {after_seq + 1}..{seq - 1} have none")
                _command_events(data, start, stop, topics, out)
                scan.records += 1
                scan.last_seq = seq
                after_seq = seq
        offset = stop
    scan.consumed = offset
    return scan


def produce_all(producer: Any, messages: list[Message]) -> None:
    """``producer.produce`` each message (the delivery callback is the producer's
    default, set in its config); a full local queue is drained by polling, then retried."""
    produce = producer.produce
    for topic, value, key, timestamp_ms in messages:
        while True:
            try:
                produce(topic, value, key, timestamp=timestamp_ms)
                break
            except BufferError:
                producer.poll(0.05)  # librdkafka's local queue is full: let acks drain
