"""Follows the WAL's CommandEvents from a seq, never past the durable seq (outbox input).

The outbox's reader: a ``wal_reader.SegmentFollower`` like ``WalTailer`` (same bounded
chunks read from the segment files, same stop rules: an incomplete or not yet valid
frame means "not written yet", events past the durable seq wait for their fsync), but
the frames are walked and turned into Kafka messages by compiled code
(``event_frames``) instead of protobuf messages, which was most of the outbox's own CPU.
"""

from collections.abc import Callable
from pathlib import Path

from exchange_core.adapters.event_frames import Message, scan_events
from exchange_core.adapters.wal_frame import MAX_PAYLOAD_BYTES, TYPE_CRC
from exchange_core.adapters.wal_reader import SegmentFollower


class Polled:
    """The messages of up to N durable CommandEvents records, and the last one's seq."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.records = 0
        self.last_seq = 0


class EventTailer(SegmentFollower):
    def __init__(
        self,
        wal_dir: Path,
        after_seq: int,
        durable_seq: Callable[[], int],
        *,
        chunk_bytes: int = 1024 * 1024,
    ) -> None:
        super().__init__(wal_dir, after_seq, durable_seq, chunk_bytes=chunk_bytes)
        self._topics: dict[bytes, str] = {}

    def poll(self, max_records: int) -> Polled:
        """The messages of up to ``max_records`` durable CommandEvents records after the
        last one returned (in WAL order)."""
        out = Polled()
        while out.records < max_records:
            if self._path is None:
                self._path = self._first_segment()
                if self._path is None:
                    return out
            progressed = self._read_chunk(self._path, out, max_records - out.records,
                                          self._durable_seq())
            if not progressed and not self._advance_segment(self._path):
                return out
        return out

    def _read_chunk(self, path: Path, out: Polled, limit: int, durable: int) -> bool:
        data = self._window(path)
        scan = scan_events(data, self._after_seq, durable, max_records=limit,
                           type_crc=TYPE_CRC, max_payload=MAX_PAYLOAD_BYTES, topics=self._topics)
        if scan.records:
            out.messages += scan.messages
            out.records += scan.records
            out.last_seq = self._after_seq = scan.last_seq
        self._consumed(scan.consumed, len(data))
        return scan.consumed > 0
