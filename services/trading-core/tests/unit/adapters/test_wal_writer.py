import threading
from pathlib import Path

import pytest

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_reader import WalTailer, read_entries
from exchange_core.adapters.wal_segment import list_segments
from exchange_core.adapters.wal_writer import WalClosedError, WalWriter


def _frames(seq: int) -> bytes:
    command = wal_pb2.SequencedCommand(seq=seq, ts_ns=seq, epoch=1)
    command.cancel_all.symbol = "BTC-USDT"
    events = wal_pb2.CommandEvents(seq=seq, epoch=1, ts_ns=seq, events=[
        wal_pb2.OutboxEvent(topic="t", key="k", event_id=f"e{seq}", payload=b"p")])
    return (encode_frame(RecordType.COMMAND, command.SerializeToString())
            + encode_frame(RecordType.EVENTS, events.SerializeToString()))


class _Durable:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.batches: list[int] = []
        self.done = threading.Event()

    def on_durable(self, seq: int) -> None:
        self.seqs.append(seq)

    def observe(self, seconds: float, commands: int, size: int) -> None:
        self.batches.append(commands)


# Every test runs on plain and on preallocated segments (what serve runs).
pytestmark = pytest.mark.parametrize("preallocate", [False, True])


def _writer(tmp_path: Path, durable: _Durable, **kwargs: object) -> WalWriter:
    return WalWriter(tmp_path, shard_id="s", next_seq=1, epoch=1, on_durable=durable.on_durable,
                     observe_fsync=durable.observe, **kwargs)  # type: ignore[arg-type]


def test_appends_become_durable_in_order_and_read_back(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, preallocate=preallocate)
    writer.start()
    for seq in range(1, 501):
        writer.append(seq, _frames(seq))
    writer.close()
    assert durable.seqs == sorted(durable.seqs) and durable.seqs[-1] == 500
    assert writer.durable_seq == 500
    assert [e.seq for e in read_entries(tmp_path)] == list(range(1, 501))


def test_commands_queued_during_an_fsync_share_the_next_one(tmp_path: Path,
                                                            preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, preallocate=preallocate)
    for seq in range(1, 201):  # queued before the writer thread runs: one batch
        writer.append(seq, _frames(seq))
    writer.start()
    writer.close()
    assert durable.batches == [200]
    assert durable.seqs == [200]


def test_segments_rotate_at_the_size_limit_without_splitting_a_batch(
        tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, segment_max_bytes=2_000,
                     preallocate=preallocate)
    writer.start()
    for seq in range(1, 301):
        writer.append(seq, _frames(seq))
        if seq % 10 == 0:
            while writer.durable_seq < seq:
                threading.Event().wait(0.001)
    writer.close()
    assert len(list_segments(tmp_path)) > 3
    assert [e.seq for e in read_entries(tmp_path)] == list(range(1, 301))


def test_a_writer_whose_lease_is_gone_refuses_to_write(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    reasons: list[str] = []
    writer = _writer(tmp_path, durable, is_fence_valid=lambda: False, on_stop=reasons.append,
                     preallocate=preallocate)
    writer.start()
    writer.append(1, _frames(1))
    writer.close()
    assert durable.seqs == [] and list(read_entries(tmp_path)) == []
    assert "stale epoch" in reasons[0]
    with pytest.raises(WalClosedError):
        writer.append(2, _frames(2))


def test_the_tailer_never_reads_past_the_durable_seq(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, segment_max_bytes=1_500,
                     preallocate=preallocate)
    writer.start()
    for seq in range(1, 101):
        writer.append(seq, _frames(seq))
    writer.close()
    limit = [40]
    tailer = WalTailer(tmp_path, 0, lambda: limit[0], chunk_bytes=700)
    first = [r.seq for r in tailer.poll(1000)]
    assert first == list(range(1, 41))
    limit[0] = 100
    rest = [r.seq for r in tailer.poll(25)] + [r.seq for r in tailer.poll(1000)]
    assert rest == list(range(41, 101))
    assert WalTailer(tmp_path, 90, lambda: 100).poll(1000)[0].seq == 91
