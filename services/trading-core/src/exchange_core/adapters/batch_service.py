# ruff: noqa: N802 - method names are the gRPC contract
"""TradingCoreBatch: many commands per message, one reply message per batch.

A batch is staged as a unit on arrival: every command is mapped with the batch's one
timestamp (bad input is refused, not sequenced), the mapped ones are applied in order and
logged as ONE WAL record (the request as received, plus the indices it did not sequence)
followed by their events. The reply message waits for the fsync of the batch's highest
seq, which covers every command in it: the commit line holds for each.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import grpc

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import trading_core_batch_pb2_grpc as batch_grpc
from exchange.v1 import common_pb2
from exchange_core.adapters import command_mapping
from exchange_core.adapters import reply_mapping as replies
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.grpc_service import Staged, TradingCoreService
from exchange_core.adapters.wal_journal import BatchSource
from exchange_core.app.core_node import CoreNode, NotServing
from exchange_core.domain import Command, Result

MAX_BATCH = 1_000
_WINDOW = 64
_OVERLOADED = command_mapping.Unsequenced(common_pb2.REJECT_CODE_OVERLOADED, "overloaded")


class Item(NamedTuple):
    """One command of a staged batch: its request and, if refused, why (else sequenced)."""

    request_id: int
    which: str
    request: Any
    refused: command_mapping.Unsequenced | None


class StagedBatch(NamedTuple):
    last_seq: int  # 0: nothing sequenced (every command refused)
    epoch: int
    items: list[Item]
    results: list[Result]  # of the sequenced items, in order


def stage_batch(node: CoreNode, batch: batch_pb.SubmitBatchesRequest) -> StagedBatch:
    """Map, sequence and apply the commands of ``batch`` (synchronous, on the loop)."""
    engine = node.engine
    ts_ns = node.now_ns()
    overloaded = node.overloaded()  # refuses new orders only: cancels always go through
    commands: list[Command] = []
    skipped: list[int] = []
    items: list[Item] = []
    place, cancel, cancel_all = (command_mapping.place_order, command_mapping.cancel_order,
                                 command_mapping.cancel_all)
    for index, item in enumerate(batch.commands):
        which = item.WhichOneof("command")
        if which is None:
            skipped.append(index)  # nothing to do; there is no reply type for it
            continue
        mapped: Command | command_mapping.Unsequenced
        if which == "place_order":
            request: Any = item.place_order
            mapped = place(engine, request, ts_ns)
            if overloaded and not isinstance(mapped, command_mapping.Unsequenced):
                mapped = _OVERLOADED
        elif which == "cancel_order":
            request = item.cancel_order
            mapped = cancel(engine, request, ts_ns)
        else:
            request = item.cancel_all
            mapped = cancel_all(engine, request, ts_ns)
        if isinstance(mapped, command_mapping.Unsequenced):
            skipped.append(index)
            items.append(Item(item.request_id, which, request, mapped))
        else:
            commands.append(mapped)
            items.append(Item(item.request_id, which, request, None))
    if not commands:
        return StagedBatch(0, node.epoch, items, [])
    first, results = node.execute_batch(
        BatchSource(batch.SerializeToString(), skipped), commands, ts_ns)
    return StagedBatch(first + len(results) - 1, node.epoch, items, results)


def batch_reply(mapper: EventMapper, staged: StagedBatch) -> batch_pb.SubmitBatchesResponse:
    """The reply message (built in place: one copy of each reply, not two)."""
    response = batch_pb.SubmitBatchesResponse()
    add = response.replies.add
    results = iter(staged.results)
    epoch = staged.epoch
    for request_id, which, request, refused in staged.items:
        if which == "place_order":
            if refused is None:
                add(request_id=request_id,
                    place_order=replies.place_reply(mapper, epoch, next(results)))
            else:
                add(request_id=request_id,
                    place_order=replies.place_refused(request, refused.code, refused.reason))
        elif which == "cancel_order":
            add(request_id=request_id, cancel_order=(
                replies.cancel_reply(epoch, request, next(results)) if refused is None
                else replies.cancel_refused(request, refused.code, refused.reason)))
        else:
            add(request_id=request_id, cancel_all=(
                replies.cancel_all_reply(epoch, next(results)) if refused is None
                else replies.cancel_all_refused(refused.code, refused.reason)))
    return response


class TradingCoreBatchService(batch_grpc.TradingCoreBatchServicer):
    def __init__(self, core: TradingCoreService) -> None:
        self._core = core

    async def SubmitBatches(
        self, request_iterator: AsyncIterator[batch_pb.SubmitBatchesRequest], context: Any
    ) -> AsyncIterator[batch_pb.SubmitBatchesResponse]:
        window: asyncio.Queue[StagedBatch | None] = asyncio.Queue(_WINDOW)
        problems: list[tuple[grpc.StatusCode, str]] = []

        async def read() -> None:
            try:
                async for batch in request_iterator:
                    if len(batch.commands) > MAX_BATCH:
                        problems.append((grpc.StatusCode.INVALID_ARGUMENT,
                                         f"at most {MAX_BATCH} commands per batch"))
                        break
                    try:
                        staged = stage_batch(self._core.leader()[0], batch)
                    except NotServing as exc:
                        problems.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                        break
                    await window.put(staged)
            finally:
                await window.put(None)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while (staged := await window.get()) is not None:
                try:
                    node, mapper = self._core.leader()
                    if staged.last_seq:
                        await node.gate.wait(staged.last_seq)
                except NotServing as exc:
                    problems.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                    break
                yield batch_reply(mapper, staged)
            if problems:
                await context.abort(*problems[0])
        finally:
            reader.cancel()


__all__ = ["Staged", "StagedBatch", "TradingCoreBatchService", "batch_reply", "stage_batch"]
