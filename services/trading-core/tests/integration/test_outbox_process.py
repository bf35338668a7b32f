"""The outbox process publishes exactly the durable records it is told about, persists its
cursor after the acks, and publishes nothing once the fence (the lease) has expired."""

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from core_harness import consume_range  # type: ignore[import-not-found]

from exchange.core.v1 import wal_pb2
from exchange_common.kafka import ensure_topics, producer_config
from exchange_core.adapters.cursor_file import CursorFile
from exchange_core.adapters.outbox_process import OutboxProcess
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_writer import WalWriter
from exchange_testkit.waiting import wait_until

pytestmark = pytest.mark.integration


def _write_wal(wal_dir: Path, topic: str, commands: int) -> None:
    wal_dir.mkdir(parents=True, exist_ok=True)
    writer = WalWriter(wal_dir, shard_id="t", next_seq=1, epoch=1, on_durable=lambda s: None)
    writer.start()
    for seq in range(1, commands + 1):
        command = wal_pb2.SequencedCommand(seq=seq, ts_ns=seq, epoch=1)
        command.cancel_all.symbol = "X"
        events = wal_pb2.CommandEvents(seq=seq, epoch=1, ts_ns=seq, events=[
            wal_pb2.OutboxEvent(topic=topic, key="k", event_id=f"e{seq}-{i}",
                                payload=f"e{seq}-{i}".encode()) for i in range(2)])
        writer.append(seq, encode_frame(RecordType.COMMAND, command.SerializeToString())
                      + encode_frame(RecordType.EVENTS, events.SerializeToString()))
    writer.close()



def _outbox(tmp_path: Path, bootstrap: str, durable: int,
            fence: Callable[[], float]) -> OutboxProcess:
    return OutboxProcess(tmp_path / "wal", tmp_path / "outbox.cursor",
                         producer_config(bootstrap) | {"linger.ms": 5},
                         durable_seq=durable, fence_until=fence, batch_records=7, nice=7)


def test_publishes_up_to_the_durable_seq_only_then_the_rest_and_persists_the_cursor(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    topic = f"test.outbox-process-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    _write_wal(tmp_path / "wal", topic, 40)
    outbox = _outbox(tmp_path, kafka_bootstrap, 25, lambda: time.monotonic() + 30)
    outbox.start()
    try:
        wait_until(lambda: outbox.acked_cursor == 25)
        assert outbox.pid is not None  # a background process: it yields to the command path
        assert os.getpriority(os.PRIO_PROCESS, outbox.pid) == os.getpriority(
            os.PRIO_PROCESS, 0) + 7
        first = consume_range(kafka_bootstrap, {(topic, 0): 0})
        outbox.durable(40)
        wait_until(lambda: outbox.cursor == 40)  # acked and persisted
    finally:
        outbox.stop()
    assert sorted(payload for _, payload in first) == sorted(
        f"e{s}-{i}".encode() for s in range(1, 26) for i in range(2))  # nothing past 25
    everything = consume_range(kafka_bootstrap, {(topic, 0): 0})
    assert {p for _, p in everything} == {
        f"e{s}-{i}".encode() for s in range(1, 41) for i in range(2)}
    assert CursorFile(tmp_path / "outbox.cursor").load() == 40


def test_an_expired_fence_publishes_nothing_and_a_restart_resumes_from_the_cursor(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    topic = f"test.outbox-fence-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    _write_wal(tmp_path / "wal", topic, 10)
    CursorFile(tmp_path / "outbox.cursor").store(4)  # a previous leader got this far
    fenced = _outbox(tmp_path, kafka_bootstrap, 10, lambda: 0.0)
    fenced.start()
    time.sleep(1.0)  # long enough for a live child to publish 6 records many times over
    fenced.stop(0.5)
    assert fenced.cursor == 4
    assert consume_range(kafka_bootstrap, {(topic, 0): 0}) == []
    leader = _outbox(tmp_path, kafka_bootstrap, 10, lambda: time.monotonic() + 30)
    leader.start()
    try:
        wait_until(lambda: leader.cursor == 10)
    finally:
        leader.stop()
    published = {p for _, p in consume_range(kafka_bootstrap, {(topic, 0): 0})}
    assert published == {f"e{s}-{i}".encode() for s in range(5, 11) for i in range(2)}
