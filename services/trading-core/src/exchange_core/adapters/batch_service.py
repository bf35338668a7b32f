# ruff: noqa: N802 - method names are the gRPC contract
"""TradingCoreBatch: many commands per message, one reply message per batch.

A batch is staged as a unit on arrival: every command is mapped with the batch's one
timestamp (bad input is refused, not sequenced), the mapped ones are applied in order and
logged as ONE WAL record (the request as received, plus the indices it did not sequence)
followed by their events. The reply message waits for the fsync of the batch's highest
seq, which covers every command in it: the commit line holds for each.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import DecodeError

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.v1 import common_pb2
from exchange_core.adapters import command_mapping, request_wire
from exchange_core.adapters import reply_mapping as replies
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.grpc_service import Staged, TradingCoreService
from exchange_core.adapters.proto_wire import varint
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


BatchItems = list[tuple[int, str, Any]]
"""(request_id, which command or "", its request) of each item of a batch, in order."""


def stage_batch(node: CoreNode, batch: batch_pb.SubmitBatchesRequest) -> StagedBatch:
    """Map, sequence and apply the commands of ``batch`` (synchronous, on the loop)."""
    return _stage(node, _message_items(batch), batch.SerializeToString)


def decode_batch(data: bytes) -> BatchItems:
    """The items of a serialized SubmitBatchesRequest, decoded by ``request_wire`` (by
    protobuf for the shapes it leaves alone); malformed bytes raise ``ValueError``."""
    decoded = request_wire.batch_items(data)
    if decoded is not None:
        return [(i.request_id, i.which, i.request) for i in decoded]
    try:
        return _message_items(batch_pb.SubmitBatchesRequest.FromString(data))
    except DecodeError as exc:
        raise ValueError(f"malformed SubmitBatchesRequest: {exc}") from None


def stage_raw_batch(node: CoreNode, data: bytes, items: BatchItems) -> StagedBatch:
    """``stage_batch`` of the bytes as received (``items = decode_batch(data)``): those
    bytes are what the WAL records."""
    return _stage(node, items, lambda: data)


def _message_items(batch: batch_pb.SubmitBatchesRequest) -> BatchItems:
    out: BatchItems = []
    for item in batch.commands:
        which = item.WhichOneof("command")
        out.append((item.request_id, which or "", getattr(item, which) if which else None))
    return out


def _stage(node: CoreNode, items: list[tuple[int, str, Any]],
           serialized: Callable[[], bytes]) -> StagedBatch:
    engine = node.engine
    ts_ns = node.now_ns()
    overloaded = node.overloaded()  # refuses new orders only: cancels always go through
    commands: list[Command] = []
    skipped: list[int] = []
    staged: list[Item] = []
    place, cancel, cancel_all = (command_mapping.place_order, command_mapping.cancel_order,
                                 command_mapping.cancel_all)
    for index, (request_id, which, request) in enumerate(items):
        if not which:
            skipped.append(index)  # nothing to do; there is no reply type for it
            continue
        mapped: Command | command_mapping.Unsequenced
        if which == "place_order":
            mapped = place(engine, request, ts_ns)
            if overloaded and not isinstance(mapped, command_mapping.Unsequenced):
                mapped = _OVERLOADED
        elif which == "cancel_order":
            mapped = cancel(engine, request, ts_ns)
        else:
            mapped = cancel_all(engine, request, ts_ns)
        if isinstance(mapped, command_mapping.Unsequenced):
            skipped.append(index)
            staged.append(Item(request_id, which, request, mapped))
        else:
            commands.append(mapped)
            staged.append(Item(request_id, which, request, None))
    if not commands:
        return StagedBatch(0, node.epoch, staged, [])
    first, results = node.execute_batch(BatchSource(serialized(), skipped), commands, ts_ns)
    return StagedBatch(first + len(results) - 1, node.epoch, staged, results)


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


_REPLY_KEYS = {"place_order": b"\x12", "cancel_order": b"\x1a", "cancel_all": b'"'}


def batch_reply_bytes(mapper: EventMapper, staged: StagedBatch) -> bytes:
    """``batch_reply(...).SerializeToString()`` with the sequenced place replies (the hot
    ones) written as bytes; the others are serialized messages (the tests compare both)."""
    parts: list[bytes] = []
    results = iter(staged.results)
    epoch = staged.epoch
    for request_id, which, request, refused in staged.items:
        if which == "place_order":
            body = (replies.place_reply_bytes(mapper, epoch, next(results)) if refused is None
                    else replies.place_refused(request, refused.code, refused.reason
                                               ).SerializeToString())
        elif which == "cancel_order":
            body = (replies.cancel_reply(epoch, request, next(results)) if refused is None
                    else replies.cancel_refused(request, refused.code, refused.reason)
                    ).SerializeToString()
        else:
            body = (replies.cancel_all_reply(epoch, next(results)) if refused is None
                    else replies.cancel_all_refused(refused.code, refused.reason)
                    ).SerializeToString()
        item = ((b"\x08" + varint(request_id) if request_id else b"")
                + _REPLY_KEYS[which] + varint(len(body)) + body)
        parts.append(b"\n" + varint(len(item)) + item)  # SubmitBatchesResponse.replies = 1
    return b"".join(parts)


def serialize_reply(reply: bytes | batch_pb.SubmitBatchesResponse) -> bytes:
    """The response serializer of SubmitBatches: replies are written as bytes."""
    return reply if isinstance(reply, bytes) else reply.SerializeToString()


def add_batch_service(service: "TradingCoreBatchService", server: Any) -> None:
    """Register TradingCoreBatch like the generated helper, with replies sent as bytes."""
    handlers = {"SubmitBatches": grpc.stream_stream_rpc_method_handler(
        service.SubmitBatches, request_deserializer=None,  # bytes: stage_raw_batch decodes
        response_serializer=serialize_reply)}
    name = "exchange.core.v1.TradingCoreBatch"
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)


class TradingCoreBatchService:
    """exchange.core.v1.TradingCoreBatch (registered by ``add_batch_service``)."""

    def __init__(self, core: TradingCoreService) -> None:
        self._core = core

    async def SubmitBatches(
        self, request_iterator: AsyncIterator[bytes], context: Any
    ) -> AsyncIterator[bytes]:
        """Requests arrive as bytes (``add_batch_service``): decoded by ``request_wire``."""
        window: asyncio.Queue[StagedBatch | None] = asyncio.Queue(_WINDOW)
        problems: list[tuple[grpc.StatusCode, str]] = []

        async def read() -> None:
            try:
                async for data in request_iterator:
                    try:
                        items = decode_batch(data)
                    except ValueError as exc:  # malformed bytes: nothing was sequenced
                        problems.append((grpc.StatusCode.INVALID_ARGUMENT, str(exc)))
                        break
                    if len(items) > MAX_BATCH:
                        problems.append((grpc.StatusCode.INVALID_ARGUMENT,
                                         f"at most {MAX_BATCH} commands per batch"))
                        break
                    try:
                        staged = stage_raw_batch(self._core.leader()[0], data, items)
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
                yield batch_reply_bytes(mapper, staged)
            if problems:
                await context.abort(*problems[0])
        finally:
            reader.cancel()


__all__ = ["Staged", "StagedBatch", "TradingCoreBatchService", "add_batch_service",
           "batch_reply", "batch_reply_bytes", "decode_batch", "stage_batch", "stage_raw_batch"]
