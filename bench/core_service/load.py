"""Load generator: pipelined PlaceOrder over SubmitStream (grpc.aio), latency per order.

One process runs ``streams`` concurrent streams; each keeps up to ``window`` orders in
flight (sent, not yet acknowledged). Latency = send to acknowledgement (for a batch: of
its last order, counted for every order in it). ``batch`` > 1 uses TradingCoreBatch.
"""

import asyncio
import random
import time
from typing import Any

import grpc

from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc


async def _stream(stub: Any, symbol: str, accounts: list[str], *, deadline: float,
                  window: int, seed: int, out: dict[str, Any]) -> None:
    rng = random.Random(seed)
    slots = asyncio.Semaphore(window)
    sent_at: dict[int, int] = {}
    call = stub.SubmitStream()

    async def writer() -> None:
        i = 0
        while time.monotonic() < deadline:
            await slots.acquire()
            i += 1
            req = pb.SubmitStreamRequest(request_id=i,
                                         place_order=_order(rng, symbol, accounts, seed, i))
            sent_at[i] = time.perf_counter_ns()
            await call.write(req)
        await call.done_writing()

    task = asyncio.get_running_loop().create_task(writer())
    latencies, codes = out["latencies_us"], out["codes"]
    async for reply in call:
        latencies.append((time.perf_counter_ns() - sent_at.pop(reply.request_id)) // 1000)
        code = reply.place_order.code
        codes[code] = codes.get(code, 0) + 1
        slots.release()
    await task


def _order(rng: random.Random, symbol: str, accounts: list[str], seed: int,
           i: int) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        symbol=symbol, account_id=accounts[i % len(accounts)], client_order_id=f"s{seed}-{i}",
        side=common_pb2.SIDE_BUY if i & 1 else common_pb2.SIDE_SELL,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        time_in_force=common_pb2.TIME_IN_FORCE_IOC if rng.random() < 0.3
        else common_pb2.TIME_IN_FORCE_GTC,
        price=f"{rng.randint(9_950, 10_050) / 100:.2f}", quantity="0.01")


async def _batches(channel: Any, symbol: str, accounts: list[str], *, deadline: float,
                   window: int, batch: int, seed: int, out: dict[str, Any]) -> None:
    """TradingCoreBatch: ``batch`` orders per message, ``window`` orders in flight."""
    from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
    from exchange.core.v1 import trading_core_batch_pb2_grpc as batch_grpc

    rng = random.Random(seed)
    slots = asyncio.Semaphore(max(1, window // batch))
    sent_at: dict[int, int] = {}
    call = batch_grpc.TradingCoreBatchStub(channel).SubmitBatches()

    async def writer() -> None:
        i = 0
        while time.monotonic() < deadline:
            await slots.acquire()
            commands = []
            for _ in range(batch):
                i += 1
                commands.append(pb.SubmitStreamRequest(
                    request_id=i, place_order=_order(rng, symbol, accounts, seed, i)))
            sent_at[i] = time.perf_counter_ns()
            await call.write(batch_pb.SubmitBatchesRequest(commands=commands))
        await call.done_writing()

    task = asyncio.get_running_loop().create_task(writer())
    latencies, codes = out["latencies_us"], out["codes"]
    async for reply in call:
        started = sent_at.pop(reply.replies[-1].request_id)
        latency = (time.perf_counter_ns() - started) // 1000
        for item in reply.replies:
            latencies.append(latency)
            code = item.place_order.code
            codes[code] = codes.get(code, 0) + 1
        slots.release()
    await task


async def _run(port: int, symbol: str, accounts: list[str], *, seconds: float, window: int,
               seed: int, streams: int, batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies_us": [], "codes": {}}
    deadline = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        if batch > 1:
            await asyncio.gather(*(_batches(channel, symbol, accounts, deadline=deadline,
                                            window=window, batch=batch, seed=seed * 100 + s,
                                            out=out) for s in range(streams)))
        else:
            await asyncio.gather(*(_stream(stub, symbol, accounts, deadline=deadline,
                                           window=window, seed=seed * 100 + s, out=out)
                                   for s in range(streams)))
    out["acked"] = len(out["latencies_us"])
    return out


def run_client(job: tuple[int, str, list[str], float, int, int, int, int]) -> dict[str, Any]:
    """(port, symbol, accounts, seconds, window, seed, streams, batch) -> results."""
    port, symbol, accounts, seconds, window, seed, streams, batch = job
    return asyncio.run(_run(port, symbol, accounts, seconds=seconds, window=window, seed=seed,
                            streams=streams, batch=batch))
