# ruff: noqa: N802 - method names are the gRPC contract
"""TradingCoreBatch: many commands per message, one reply message per batch.

Every command of a batch is staged on arrival (mapped, sequenced, applied); the reply
message waits for the fsync of the batch's highest seq, which covers every command in it.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import trading_core_batch_pb2_grpc as batch_grpc
from exchange_core.adapters.grpc_service import Staged, TradingCoreService
from exchange_core.app.core_node import NotServing

MAX_BATCH = 1_000
_WINDOW = 64


class TradingCoreBatchService(batch_grpc.TradingCoreBatchServicer):
    def __init__(self, core: TradingCoreService) -> None:
        self._core = core

    async def SubmitBatches(
        self, request_iterator: AsyncIterator[batch_pb.SubmitBatchesRequest], context: Any
    ) -> AsyncIterator[batch_pb.SubmitBatchesResponse]:
        window: asyncio.Queue[Any] = asyncio.Queue(_WINDOW)
        problems: list[tuple[grpc.StatusCode, str]] = []

        async def read() -> None:
            try:
                async for batch in request_iterator:
                    if len(batch.commands) > MAX_BATCH:
                        problems.append((grpc.StatusCode.INVALID_ARGUMENT,
                                         f"at most {MAX_BATCH} commands per batch"))
                        break
                    try:
                        staged = [(c.request_id, which, self._core.stage(c))
                                  for c in batch.commands
                                  if (which := c.WhichOneof("command")) is not None]
                    except NotServing as exc:
                        problems.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                        break
                    await window.put(staged)
            finally:
                await window.put(None)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while (staged := await window.get()) is not None:
                last = max((s.seq for _, _, s in staged), default=0)
                try:
                    if last:
                        await self._core.leader()[0].gate.wait(last)
                except NotServing as exc:
                    problems.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                    break
                response = batch_pb.SubmitBatchesResponse()
                add = response.replies.add  # built in place: one copy of each reply, not two
                for request_id, which, s in staged:
                    add(request_id=request_id, **{which: s.build()})
                yield response
            if problems:
                await context.abort(*problems[0])
        finally:
            reader.cancel()


__all__ = ["Staged", "TradingCoreBatchService"]
