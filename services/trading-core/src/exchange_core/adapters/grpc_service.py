# ruff: noqa: N802 - method names are the gRPC contract
"""The TradingCore gRPC service (grpc.aio): requests in, replies after the fsync.

Handlers run on the event loop, which is also the single sequencer thread: a command is
mapped (bad input is refused before sequencing), sequenced and applied synchronously,
then the handler awaits the durability gate. Replies therefore never leave before the
group commit that holds them. UNAVAILABLE is the answer while this node is not the
leader or is draining; business outcomes are replies with a RejectCode.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import grpc

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2, trading_core_pb2, trading_core_pb2_grpc
from exchange_core.adapters import command_mapping
from exchange_core.adapters import reply_mapping as replies
from exchange_core.adapters.event_mapping import EventMapper, level
from exchange_core.app.core_node import CoreNode, NotServing
from exchange_core.domain import OrderView, format_order_id, parse_order_id

log = logging.getLogger(__name__)

pb = trading_core_pb2
_DEFAULT_DEPTH = 50
_MAX_DEPTH = 1_000
_MAX_OPEN_ORDERS = 1_000
_STREAM_WINDOW = 1_024


class Staged(NamedTuple):
    """A command handled on the loop: its seq (0 = answered without sequencing) and the
    reply to build once that seq is durable."""

    seq: int
    build: Callable[[], Any]


class TradingCoreService(trading_core_pb2_grpc.TradingCoreServicer):
    def __init__(self) -> None:
        self.node: CoreNode | None = None
        self.mapper: EventMapper | None = None
        self.standby_reason = "not leader: waiting for the leader lease"

    def attach(self, node: CoreNode, mapper: EventMapper) -> None:
        self.node, self.mapper = node, mapper

    def leader(self) -> tuple[CoreNode, EventMapper]:
        if self.node is None or self.mapper is None:
            raise NotServing(self.standby_reason)
        return self.node, self.mapper

    # -- commands -------------------------------------------------------------------
    # Each command is first *staged* (mapped, sequenced, applied: synchronous, on the loop)
    # and answered only after ``gate.wait(seq)``: the commit line.

    async def PlaceOrder(
        self, request: pb.PlaceOrderRequest, context: Any
    ) -> pb.PlaceOrderResponse:
        reply: pb.PlaceOrderResponse = await self._unary(context, lambda: self._place(request))
        return reply

    async def CancelOrder(
        self, request: pb.CancelOrderRequest, context: Any
    ) -> pb.CancelOrderResponse:
        reply: pb.CancelOrderResponse = await self._unary(context, lambda: self._cancel(request))
        return reply

    async def CancelAll(self, request: pb.CancelAllRequest, context: Any) -> pb.CancelAllResponse:
        reply: pb.CancelAllResponse = await self._unary(context,
                                                        lambda: self._cancel_all(request))
        return reply

    async def SetSymbolMode(
        self, request: pb.SetSymbolModeRequest, context: Any
    ) -> pb.SetSymbolModeResponse:
        reply: pb.SetSymbolModeResponse = await self._unary(context,
                                                            lambda: self._set_mode(request))
        return reply

    async def _unary(self, context: Any, stage: Callable[[], Staged]) -> Any:
        try:
            staged = stage()
            if staged.seq:
                await self.leader()[0].gate.wait(staged.seq)
        except NotServing as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return staged.build()

    async def SubmitStream(
        self, request_iterator: AsyncIterator[pb.SubmitStreamRequest], context: Any
    ) -> AsyncIterator[pb.SubmitStreamResponse]:
        """Pipelined commands: each is sequenced on arrival, replies leave in order."""
        window: asyncio.Queue[Any] = asyncio.Queue(_STREAM_WINDOW)
        failure: list[tuple[grpc.StatusCode, str]] = []

        async def read() -> None:
            try:
                async for item in request_iterator:
                    which = item.WhichOneof("command")
                    if which is None:  # the commands before it are answered first
                        failure.append((grpc.StatusCode.INVALID_ARGUMENT, (
                            f"request_id {item.request_id} has no command set; it and "
                            "anything after it on this stream were not executed")))
                        break
                    try:
                        staged = self.stage(item)
                    except NotServing as exc:
                        failure.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                        break
                    await window.put((item.request_id, which, staged))
            except Exception as exc:  # never end the stream OK with commands unanswered
                log.exception("SubmitStream reader failed")
                failure.append((grpc.StatusCode.INTERNAL, f"stream reader failed: {exc}"))
            finally:
                await window.put(None)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while (entry := await window.get()) is not None:
                request_id, which, staged = entry
                try:
                    if staged.seq:
                        await self.leader()[0].gate.wait(staged.seq)
                except NotServing as exc:
                    failure.append((grpc.StatusCode.UNAVAILABLE, str(exc)))
                    break
                yield pb.SubmitStreamResponse(request_id=request_id, **{which: staged.build()})
            if failure:
                await context.abort(*failure[0])
        finally:
            reader.cancel()

    def stage(self, item: pb.SubmitStreamRequest) -> Staged:
        which = item.WhichOneof("command")
        if which == "place_order":
            return self._place(item.place_order)
        if which == "cancel_order":
            return self._cancel(item.cancel_order)
        if which == "cancel_all":
            return self._cancel_all(item.cancel_all)
        raise ValueError("empty command")

    def _place(self, req: pb.PlaceOrderRequest) -> Staged:
        node, mapper = self.leader()
        mapped = command_mapping.place_order(node.engine, req)
        if isinstance(mapped, command_mapping.Unsequenced):
            refused = replies.place_refused(req, mapped.code, mapped.reason)
            return Staged(0, lambda: refused)
        if node.overloaded():
            busy = replies.place_refused(req, common_pb2.REJECT_CODE_OVERLOADED, "overloaded")
            return Staged(0, lambda: busy)
        result, seq = node.execute(wal_pb2.SequencedCommand(place_order=req), mapped)
        return Staged(seq, lambda: replies.place_reply(mapper, node.epoch, result))

    @staticmethod
    def _sequence(node: CoreNode, mapped: Any, command: wal_pb2.SequencedCommand,
                  refuse: Callable[[Any], Any], reply: Callable[[Any], Any]) -> Staged:
        """Refuse input that did not map (not sequenced), else sequence it; the reply is
        built from the engine's result once its seq is durable."""
        if isinstance(mapped, command_mapping.Unsequenced):
            refused = refuse(mapped)
            return Staged(0, lambda: refused)
        result, seq = node.execute(command, mapped)
        return Staged(seq, lambda: reply(result))

    def _cancel(self, req: pb.CancelOrderRequest) -> Staged:
        node, _ = self.leader()
        return self._sequence(
            node, command_mapping.cancel_order(node.engine, req),
            wal_pb2.SequencedCommand(cancel_order=req),
            lambda m: replies.cancel_refused(req, m.code, m.reason),
            lambda r: replies.cancel_reply(node.epoch, req, r))

    def _cancel_all(self, req: pb.CancelAllRequest) -> Staged:
        node, _ = self.leader()
        return self._sequence(
            node, command_mapping.cancel_all(node.engine, req),
            wal_pb2.SequencedCommand(cancel_all=req),
            lambda m: replies.cancel_all_refused(m.code, m.reason),
            lambda r: replies.cancel_all_reply(node.epoch, r))

    def _set_mode(self, req: pb.SetSymbolModeRequest) -> Staged:
        node, _ = self.leader()
        return self._sequence(
            node, command_mapping.set_symbol_mode(node.engine, req),
            wal_pb2.SequencedCommand(set_symbol_mode=req),
            lambda m: pb.SetSymbolModeResponse(accepted=False, code=m.code, reason=m.reason),
            lambda r: pb.SetSymbolModeResponse(
                accepted=r.accepted, code=r.code, reason=r.reason,
                mode=r.mode, seq=r.seq, epoch=node.epoch))

    # -- queries (answered once what they saw is durable) ---------------------------------

    async def GetOrder(self, request: pb.GetOrderRequest, context: Any) -> pb.GetOrderResponse:
        try:
            node, mapper = self.leader()
        except NotServing as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        view: OrderView | None = None
        if node.engine.grid(request.symbol) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol {request.symbol!r}")
        if request.order_id:
            number = parse_order_id(request.symbol, request.order_id)
            if not number:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, (
                    f"order_id {request.order_id!r} is not an order id of {request.symbol}"))
            view = node.engine.get_order(request.symbol, number)
        elif request.client_order_id:
            if not request.account_id:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    "account_id is required with client_order_id")
            view = node.engine.get_order_by_client(
                request.symbol, request.account_id, request.client_order_id)
        else:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "order_id or client_order_id is required")
        if view is not None and request.account_id and view.account_id != request.account_id:
            view = None  # an account sees only its own orders
        await _durable(node, context)
        if view is None:
            return pb.GetOrderResponse(found=False)
        return pb.GetOrderResponse(found=True, order=_order(mapper, view))

    async def GetOpenOrders(
        self, request: pb.GetOpenOrdersRequest, context: Any
    ) -> pb.GetOpenOrdersResponse:
        try:
            node, mapper = self.leader()
        except NotServing as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        limit = min(request.limit or _MAX_OPEN_ORDERS, _MAX_OPEN_ORDERS)
        views = node.engine.open_orders(request.account_id, request.symbol, limit)
        await _durable(node, context)
        return pb.GetOpenOrdersResponse(orders=[_order(mapper, v) for v in views])

    async def GetOrderBook(
        self, request: pb.GetOrderBookRequest, context: Any
    ) -> pb.GetOrderBookResponse:
        try:
            node, mapper = self.leader()
        except NotServing as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        depth = min(request.depth or _DEFAULT_DEPTH, _MAX_DEPTH)
        book = node.engine.book(request.symbol, depth)
        if book is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol {request.symbol!r}")
            return pb.GetOrderBookResponse()  # not reached: abort raises
        await _durable(node, context)
        grid = mapper.grid(request.symbol)
        return pb.GetOrderBookResponse(
            symbol=request.symbol, seq=book.seq,
            bids=[level(grid, lvl) for lvl in book.bids],
            asks=[level(grid, lvl) for lvl in book.asks],
        )


async def _durable(node: CoreNode, context: Any) -> None:
    try:
        await node.durable_view()
    except NotServing as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))


def _order(mapper: EventMapper, v: OrderView) -> pb.Order:
    grid = mapper.grid(v.symbol)
    return pb.Order(
        order_id=format_order_id(v.symbol, v.order_id), client_order_id=v.client_order_id,
        account_id=v.account_id, symbol=v.symbol, side=v.side,  # type: ignore[arg-type]
        order_type=v.order_type, time_in_force=v.time_in_force,  # type: ignore[arg-type]
        price=grid.format_price(v.price_ticks) if v.price_ticks else "",
        quantity=grid.format_quantity(v.qty_lots),
        filled_quantity=grid.format_quantity(v.filled_lots), status=v.status,  # type: ignore[arg-type]
        post_only=v.post_only, created_seq=v.created_seq, updated_seq=v.updated_seq,
    )

