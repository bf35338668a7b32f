"""Engine results and refusals -> the TradingCore reply messages (one builder per reply).

Shared by the unary/stream handlers and the batch handler, so a command gets the same
reply whichever RPC carried it.
"""

from collections.abc import Sequence
from typing import Any, Final

from exchange.v1 import common_pb2, trading_core_pb2
from exchange_core.adapters.event_mapping import EventMapper, trade_body
from exchange_core.adapters.proto_wire import put_string, put_uint, uint_field, varint
from exchange_core.domain import Result, TradeExecuted, format_order_id

pb = trading_core_pb2


def place_refused(req: pb.PlaceOrderRequest, code: int, reason: str) -> pb.PlaceOrderResponse:
    """Not sequenced: bad input (REJECTED), or OVERLOADED (no status: retry later)."""
    if code == common_pb2.REJECT_CODE_OVERLOADED:
        return pb.PlaceOrderResponse(accepted=False, code=code,  # type: ignore[arg-type]
                                     reason=reason, client_order_id=req.client_order_id)
    return pb.PlaceOrderResponse(
        accepted=False, code=code, reason=reason,  # type: ignore[arg-type]
        client_order_id=req.client_order_id, status=common_pb2.ORDER_STATUS_REJECTED)


def place_reply(mapper: EventMapper, epoch: int, r: Result) -> pb.PlaceOrderResponse:
    grid = mapper.grid(r.symbol)
    trades = r.trades
    return pb.PlaceOrderResponse(
        accepted=r.accepted, code=r.code, reason=r.reason,  # type: ignore[arg-type]
        order_id=format_order_id(r.symbol, r.order_id) if r.order_id else "",
        client_order_id=r.client_order_id, status=r.status,  # type: ignore[arg-type]
        filled_quantity=grid.format_quantity(r.filled_lots), seq=r.seq, epoch=epoch,
        trades=[mapper.trade(grid, t) for t in trades] if trades else None,
    )


def place_reply_bytes(mapper: EventMapper, epoch: int, r: Result) -> bytes:
    """``place_reply(...).SerializeToString()``, written as bytes (fields in number
    order, proto3 defaults omitted; the tests compare both)."""
    grid = mapper.grid(r.symbol)
    parts: list[bytes] = []
    if r.accepted:
        parts.append(b"\x08\x01")
    put_uint(parts, 16, r.code)
    put_string(parts, 26, r.reason)
    if r.order_id:
        parts.append(grid.order_id_field(34, r.order_id))
    put_string(parts, 42, r.client_order_id)
    put_uint(parts, 48, r.status)
    parts.append(grid.quantity_field(b":", r.filled_lots))
    put_uint(parts, 64, r.seq)
    put_uint(parts, 72, epoch)
    for event in r.events:
        if type(event) is TradeExecuted:
            body = trade_body(grid, event)
            parts.append(b"R")  # trades = 10
            parts.append(varint(len(body)))
            parts.append(body)
    return b"".join(parts)


def cancel_refused(req: pb.CancelOrderRequest, code: int, reason: str) -> pb.CancelOrderResponse:
    return pb.CancelOrderResponse(accepted=False, code=code,  # type: ignore[arg-type]
                                  reason=reason, order_id=req.order_id)


def cancel_reply(epoch: int, req: pb.CancelOrderRequest, r: Result) -> pb.CancelOrderResponse:
    return pb.CancelOrderResponse(
        accepted=r.accepted, code=r.code, reason=r.reason,  # type: ignore[arg-type]
        order_id=format_order_id(r.symbol, r.order_id) if r.order_id else req.order_id,
        status=r.status, seq=r.seq, epoch=epoch)  # type: ignore[arg-type]


def cancel_all_refused(code: int, reason: str) -> pb.CancelAllResponse:
    return pb.CancelAllResponse(accepted=False, code=code, reason=reason)  # type: ignore[arg-type]


def cancel_all_reply(epoch: int, r: Result) -> pb.CancelAllResponse:
    return pb.CancelAllResponse(
        accepted=r.accepted, code=r.code, reason=r.reason,  # type: ignore[arg-type]
        canceled_count=r.canceled_count, seq=r.seq, epoch=epoch)


# SubmitBatchesResponse.Reply's oneof field keys ((number << 3) | 2).
_REPLY_KEYS: Final = {"place_order": b"\x12", "cancel_order": b"\x1a", "cancel_all": b'"'}
BatchItem = tuple[int, str, Any, Any]
"""(request_id, which command, its request, ``Unsequenced`` refusal or None)."""


def batch_reply_bytes(mapper: EventMapper, epoch: int, items: Sequence[BatchItem],
                      results: list[Result]) -> bytes:
    """A serialized ``SubmitBatchesResponse`` (``replies`` = 1, one per item, in order):
    ``results`` are those of the sequenced items, in order. Sequenced place replies (the
    hot ones) are written as bytes, the others serialized from their messages; every
    piece goes into one list, joined once (the tests compare with the messages)."""
    parts: list[bytes] = []
    sequenced = 0
    for request_id, which, request, refused in items:
        body: bytes
        if refused is None:
            result = results[sequenced]
            sequenced += 1
            if which == "place_order":
                body = place_reply_bytes(mapper, epoch, result)
            elif which == "cancel_order":
                body = cancel_reply(epoch, request, result).SerializeToString()
            else:
                body = cancel_all_reply(epoch, result).SerializeToString()
        elif which == "place_order":
            body = place_refused(request, refused.code, refused.reason).SerializeToString()
        elif which == "cancel_order":
            body = cancel_refused(request, refused.code, refused.reason).SerializeToString()
        else:
            body = cancel_all_refused(refused.code, refused.reason).SerializeToString()
        id_field = uint_field(b"\x08", request_id)
        key = _REPLY_KEYS[which]
        body_len = varint(len(body))
        parts.append(b"\n")
        parts.append(varint(len(id_field) + len(key) + len(body_len) + len(body)))
        parts.append(id_field)
        parts.append(key)
        parts.append(body_len)
        parts.append(body)
    return b"".join(parts)
