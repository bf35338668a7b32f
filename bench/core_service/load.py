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


def _pregenerate(symbol: str, accounts: list[str], *, batch: int, orders: int,
                 seed: int) -> list[bytes]:
    """Serialized SubmitBatchesRequests made before the clock starts (unique client ids):
    the load generator shares the cores with the server, so it only sends bytes."""
    from exchange.core.v1 import trading_core_batch_pb2 as batch_pb

    rng = random.Random(seed)
    out = []
    i = 0
    for _ in range(max(1, orders // batch)):
        message = batch_pb.SubmitBatchesRequest()
        add = message.commands.add
        for _ in range(batch):
            i += 1
            add(request_id=i, place_order=_order(rng, symbol, accounts, seed, i))
        out.append(message.SerializeToString())
    return out


async def _batches(channel: Any, payloads: list[bytes], *, deadline: float, window: int,
                   batch: int, rate: float, out: dict[str, Any]) -> None:
    """TradingCoreBatch: ``batch`` orders per message, ``window`` orders in flight.

    ``rate`` 0: closed loop (a batch is sent as soon as the window has room: throughput
    at saturation). ``rate`` > 0 (orders/s of this stream): open loop, a batch is due every
    ``batch / rate`` seconds and its latency counts from when it was due, so a send held
    back by a full window or a late timer counts against the service (no coordinated
    omission; the event loop's timer adds up to ~1 ms of its own).

    Requests are pre-serialized bytes and replies are kept as bytes, parsed once the run
    is over (``_parse_replies``); replies come back in order, so the send times are a FIFO.
    """
    from collections import deque

    slots = asyncio.Semaphore(max(1, window // batch))
    sent_at: deque[int] = deque()
    call = channel.stream_stream("/exchange.core.v1.TradingCoreBatch/SubmitBatches")()
    period_ns = int(batch / rate * 1e9) if rate > 0 else 0

    async def writer() -> None:
        due = time.perf_counter_ns()
        for payload in payloads:
            if period_ns:
                due += period_ns
                wait_ns = due - time.perf_counter_ns()
                if wait_ns > 0:
                    await asyncio.sleep(wait_ns / 1e9)
            await slots.acquire()
            if time.monotonic() >= deadline:
                break
            sent_at.append(due if period_ns else time.perf_counter_ns())
            await call.write(payload)
        else:
            out["exhausted"] = True
        await call.done_writing()

    task = asyncio.get_running_loop().create_task(writer())
    received = out["received"]
    async for raw in call:
        received.append(((time.perf_counter_ns() - sent_at.popleft()) // 1000, raw))
        slots.release()  # the next batch goes out before this one is looked at
    await task


def _parse_replies(out: dict[str, Any]) -> None:
    """Replies are parsed after the run (their CPU still counted): a pipelining client
    does not hold its next send behind parsing the previous reply."""
    from exchange.core.v1 import trading_core_batch_pb2 as batch_pb

    parse = batch_pb.SubmitBatchesResponse.FromString
    latencies, codes = out["latencies_us"], out["codes"]
    for latency, raw in out.pop("received"):
        reply = parse(raw)
        latencies.extend([latency] * len(reply.replies))
        for item in reply.replies:
            code = item.place_order.code
            codes[code] = codes.get(code, 0) + 1


async def _run(port: int, symbol: str, accounts: list[str], *, seconds: float, window: int,
               seed: int, streams: int, batch: int, max_rate: int, start_at: float,
               rate: float) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies_us": [], "codes": {}, "received": []}
    payloads = [_pregenerate(symbol, accounts, batch=batch,
                             orders=int(max_rate * seconds / streams), seed=seed * 100 + s)
                for s in range(streams)] if batch > 1 else []
    await asyncio.sleep(max(0.0, start_at - time.time()))  # every client starts together
    deadline = time.monotonic() + seconds
    cpu_started, out["t_start"] = time.process_time(), time.time()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        if batch > 1:
            await asyncio.gather(*(_batches(channel, payloads[s], deadline=deadline,
                                            window=window, batch=batch,
                                            rate=rate / streams, out=out)
                                   for s in range(streams)))
        else:
            await asyncio.gather(*(_stream(stub, symbol, accounts, deadline=deadline,
                                           window=window, seed=seed * 100 + s, out=out)
                                   for s in range(streams)))
    out["t_end"] = time.time()
    _parse_replies(out)
    out["acked"] = len(out["latencies_us"])
    out["cpu_s"] = time.process_time() - cpu_started
    return out


def run_client(job: tuple[Any, ...]) -> dict[str, Any]:
    """(port, symbol, accounts, seconds, window, seed, streams, batch, max_rate, start_at,
    rate) -> results (latencies, reply codes, CPU seconds of this client); ``rate``: this
    client's orders/s (0 = closed loop)."""
    (port, symbol, accounts, seconds, window, seed, streams, batch, max_rate, start_at,
     rate) = job
    result = asyncio.run(_run(port, symbol, accounts, seconds=seconds, window=window,
                              seed=seed, streams=streams, batch=batch, max_rate=max_rate,
                              start_at=start_at, rate=rate))
    return result
