# ruff: noqa: N802 - method names are the gRPC contract
"""TradingCoreBatch: many commands per message, one reply message per batch.

A batch is staged as a unit on arrival: every command is mapped with the batch's one
timestamp (bad input is refused, not sequenced), the mapped ones are applied in order and
logged as ONE WAL record (the request as received, plus the indices it did not sequence)
followed by their events. The reply message waits for the fsync of the batch's highest
seq, which covers every command in it: the commit line holds for each.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange_core.adapters import reply_mapping as replies
from exchange_core.adapters.batch_staging import BatchItems, Item, StagedBatch, stage, wire_items
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.grpc_service import Staged, TradingCoreService
from exchange_core.app.core_node import CoreNode, NotServing

log = logging.getLogger(__name__)

MAX_BATCH = 1_000
_WINDOW = 64


def stage_batch(node: CoreNode, batch: batch_pb.SubmitBatchesRequest) -> StagedBatch:
    """Map, sequence and apply the commands of ``batch`` (synchronous, on the loop)."""
    return stage(node, _message_items(batch), batch.SerializeToString)


def decode_batch(data: bytes) -> BatchItems:
    """The items of a serialized SubmitBatchesRequest, decoded by ``request_wire`` (by
    protobuf for the shapes it leaves alone); malformed bytes raise ``ValueError``."""
    decoded = wire_items(data)
    if decoded is not None:
        return decoded
    try:
        return _message_items(batch_pb.SubmitBatchesRequest.FromString(data))
    except DecodeError as exc:
        raise ValueError(f"malformed SubmitBatchesRequest: {exc}") from None


def stage_raw_batch(node: CoreNode, data: bytes, items: BatchItems) -> StagedBatch:
    """``stage_batch`` of the bytes as received (``items = decode_batch(data)``): those
    bytes are what the WAL records."""
    return stage(node, items, lambda: data)


def _message_items(batch: batch_pb.SubmitBatchesRequest) -> BatchItems:
    out: BatchItems = []
    for item in batch.commands:
        which = item.WhichOneof("command")
        out.append((item.request_id, which or "", getattr(item, which) if which else None))
    return out


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


def batch_reply_bytes(mapper: EventMapper, staged: StagedBatch) -> bytes:
    """``batch_reply(...).SerializeToString()``, written by ``reply_mapping`` (compiled;
    the tests compare both)."""
    return replies.batch_reply_bytes(mapper, staged.epoch, staged.items, staged.results)


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


def _first_empty(items: BatchItems) -> int:
    """Index of the first item with no command set (-1: none)."""
    for index, (_, which, _) in enumerate(items):
        if not which:
            return index
    return -1


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
                    empty = _first_empty(items)
                    if empty >= 0:  # nothing of this batch is executed
                        problems.append((grpc.StatusCode.INVALID_ARGUMENT, (
                            f"batch item {empty} (request_id {items[empty][0]}) has no "
                            "command set; the batch was not executed")))
                        break
                    try:
                        staged = stage_raw_batch(self._core.leader()[0], data, items)
                    except NotServing as exc:
                        problems.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                        break
                    await window.put(staged)
            except Exception as exc:  # never end the stream OK with batches unanswered
                log.exception("SubmitBatches reader failed")
                problems.append((grpc.StatusCode.INTERNAL, f"batch reader failed: {exc}"))
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


__all__ = ["BatchItems", "Item", "Staged", "StagedBatch", "TradingCoreBatchService",
           "add_batch_service", "batch_reply", "batch_reply_bytes", "decode_batch", "stage_batch",
           "stage_raw_batch"]
