"""Logged requests read straight from protobuf wire bytes (replay's fast path).

Replay used to parse each WAL command record into protobuf objects and then read ~14
attributes of each (upb attribute reads cost ~0.3 us apiece): more than the engine's
``apply``. This module (compiled with mypyc) decodes the shapes our own writer produces:
``SequencedCommand`` holding a place / cancel / cancel-all request, and
``SequencedBatch`` items, into small request objects with the same attribute names as the
protobuf classes, which ``command_mapping`` then maps exactly as before.

Exactness: field order does not matter, unknown fields are skipped, a scalar or string
field that repeats keeps its last value and a repeated ``meta`` merges, as protobuf does;
enums read as int32, bools as "non-zero". Anything else (another command kind, a known
field with an unexpected wire type, a oneof set twice, packed oddities) returns ``None``
and the caller parses that record with protobuf: the fast path never guesses.
"""

from typing import Final

_VARINT: Final = 0
_I64: Final = 1
_LEN: Final = 2
_I32: Final = 5
_U64: Final = 0xFFFFFFFFFFFFFFFF
_SHORT_MAX: Final = (1 << 62) - 1  # the largest int mypyc keeps unboxed

PLACE_ORDER: Final = "place_order"
CANCEL_ORDER: Final = "cancel_order"
CANCEL_ALL: Final = "cancel_all"


class WireError(ValueError):
    """Truncated or malformed wire bytes."""


class Meta:
    """CommandMeta."""

    def __init__(self) -> None:
        self.correlation_id = ""
        self.idempotency_key = ""


class PlaceRequest:
    """The attributes of exchange.v1.PlaceOrderRequest that mapping and replies read."""

    def __init__(self) -> None:
        self.meta = Meta()
        self.symbol = ""
        self.account_id = ""
        self.client_order_id = ""
        self.side = 0
        self.order_type = 0
        self.time_in_force = 0
        self.price = ""
        self.quantity = ""
        self.quote_budget = ""
        self.protection_price = ""
        self.post_only = False
        self.self_trade_prevention = 0


class CancelRequest:
    """exchange.v1.CancelOrderRequest (and CancelAllRequest: no order ids)."""

    def __init__(self) -> None:
        self.meta = Meta()
        self.symbol = ""
        self.account_id = ""
        self.order_id = ""
        self.client_order_id = ""


Request = PlaceRequest | CancelRequest


class LoggedCommand:
    """A decoded SequencedCommand: its stamps and its request (``which`` names the kind)."""

    def __init__(self, seq: int, ts_ns: int, epoch: int, which: str, request: Request) -> None:
        self.seq = seq
        self.ts_ns = ts_ns
        self.epoch = epoch
        self.which = which
        self.request = request


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at ``pos`` (up to 64 bits)."""
    end = len(data)
    if pos < end:
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1  # one byte: every key, most enums and lengths
    value = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError(f"truncated or overlong varint at {pos}")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            # Nine bytes or fewer hold less than 64 bits: only a tenth needs the mask
            # (compiled, ``&`` with a 64-bit constant is a big-int operation every time).
            return (value if shift < 63 else value & _U64), pos
        shift += 7


def int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value >= 0x80000000 else value


def int64(value: int) -> int:
    if value <= _SHORT_MAX:
        return value  # compiled, comparing with 2**63 would be a big-int operation
    return value - 0x10000000000000000 if value >= 0x8000000000000000 else value


def skip_field(data: bytes, pos: int, wire_type: int, limit: int) -> int:
    """Position after an unknown field's value; -1: a wire type we do not handle."""
    if wire_type == _VARINT:
        pos = varint(data, pos)[1]
    elif wire_type == _I64:
        pos += 8
    elif wire_type == _I32:
        pos += 4
    elif wire_type == _LEN:
        length, pos = varint(data, pos)
        pos += length
    else:
        return -1  # groups: never in our messages
    if pos > limit:
        raise WireError("field runs past the end of its message")
    return pos


def span(data: bytes, pos: int, limit: int) -> tuple[int, int]:
    """(start, end) of the length-delimited value at ``pos`` (inside ``limit``)."""
    length, start = varint(data, pos)
    end = start + length
    if end > limit:
        raise WireError("length-delimited field runs past the end of its message")
    return start, end


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8")


def _meta(data: bytes, start: int, end: int, meta: Meta) -> bool:
    """Merge a CommandMeta into ``meta``; False: a shape we leave to protobuf."""
    pos = start
    while pos < end:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field in (1, 2):
            if wire_type != _LEN:
                return False
            a, pos = span(data, pos, end)
            if field == 1:
                meta.correlation_id = _text(data, a, pos)
            else:
                meta.idempotency_key = _text(data, a, pos)
        else:
            pos = skip_field(data, pos, wire_type, end)
            if pos < 0:
                return False
    return pos == end


def place_request(data: bytes, start: int, end: int, req: PlaceRequest) -> bool:
    """Merge a PlaceOrderRequest's fields into ``req``; False: leave it to protobuf."""
    pos = start
    while pos < end:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field in (1, 2, 3, 4, 8, 9, 10, 11):
            if wire_type != _LEN:
                return False
            a, pos = span(data, pos, end)
            if field == 1:
                if not _meta(data, a, pos, req.meta):
                    return False
            elif field == 2:
                req.symbol = _text(data, a, pos)
            elif field == 3:
                req.account_id = _text(data, a, pos)
            elif field == 4:
                req.client_order_id = _text(data, a, pos)
            elif field == 8:
                req.price = _text(data, a, pos)
            elif field == 9:
                req.quantity = _text(data, a, pos)
            elif field == 10:
                req.quote_budget = _text(data, a, pos)
            else:
                req.protection_price = _text(data, a, pos)
        elif field in (5, 6, 7, 12, 13):
            if wire_type != _VARINT:
                return False
            value, pos = varint(data, pos)
            if field == 5:
                req.side = int32(value)
            elif field == 6:
                req.order_type = int32(value)
            elif field == 7:
                req.time_in_force = int32(value)
            elif field == 12:
                req.post_only = value != 0
            else:
                req.self_trade_prevention = int32(value)
        else:
            pos = skip_field(data, pos, wire_type, end)
            if pos < 0:
                return False
    return pos == end


def cancel_request(data: bytes, start: int, end: int, req: CancelRequest,
                   with_ids: bool) -> bool:
    """Merge a CancelOrderRequest (``with_ids``) or CancelAllRequest into ``req``."""
    pos = start
    while pos < end:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field in (1, 2, 3) or (with_ids and field in (4, 5)):
            if wire_type != _LEN:
                return False
            a, pos = span(data, pos, end)
            if field == 1:
                if not _meta(data, a, pos, req.meta):
                    return False
            elif field == 2:
                req.symbol = _text(data, a, pos)
            elif field == 3:
                req.account_id = _text(data, a, pos)
            elif field == 4:
                req.order_id = _text(data, a, pos)
            else:
                req.client_order_id = _text(data, a, pos)
        else:
            pos = skip_field(data, pos, wire_type, end)
            if pos < 0:
                return False
    return pos == end


def request_of(data: bytes, start: int, end: int, which: str) -> Request | None:
    """The request of kind ``which`` in data[start:end]; None: leave it to protobuf."""
    if which == PLACE_ORDER:
        place = PlaceRequest()
        return place if place_request(data, start, end, place) else None
    cancel = CancelRequest()
    return cancel if cancel_request(data, start, end, cancel, which == CANCEL_ORDER) else None


_COMMAND_FIELDS: Final = {10: PLACE_ORDER, 11: CANCEL_ORDER, 12: CANCEL_ALL}


def sequenced_command(data: bytes) -> LoggedCommand | None:
    """A SequencedCommand holding a place / cancel / cancel-all request; None otherwise
    (another command kind or an unusual shape: parse it with protobuf)."""
    seq = ts_ns = epoch = 0
    which = ""
    start = end = 0
    pos = 0
    size = len(data)
    while pos < size:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field in (1, 2, 3):
            if wire_type != _VARINT:
                return None
            value, pos = varint(data, pos)
            if field == 1:
                seq = value
            elif field == 2:
                ts_ns = int64(value)
            else:
                epoch = value
        elif field in _COMMAND_FIELDS:
            if wire_type != _LEN or which:
                return None  # a oneof set twice merges or switches: protobuf's job
            which = _COMMAND_FIELDS[field]
            start, pos = span(data, pos, size)
            end = pos
        elif field in (13, 14):
            return None  # set_symbol_mode / balance: rare, parsed by protobuf
        else:
            pos = skip_field(data, pos, wire_type, size)
            if pos < 0:
                return None
    if not which or pos != size:
        return None
    request = request_of(data, start, end, which)
    if request is None:
        return None
    return LoggedCommand(seq, ts_ns, epoch, which, request)


class BatchItem:
    """One SubmitStreamRequest of a batch: ``which`` is "" when no command is set."""

    def __init__(self, request_id: int, which: str, request: Request | None) -> None:
        self.request_id = request_id
        self.which = which
        self.request = request


_ITEM_FIELDS: Final = {2: PLACE_ORDER, 3: CANCEL_ORDER, 4: CANCEL_ALL}


def _batch_item(data: bytes, start: int, end: int) -> BatchItem | None:
    request_id = 0
    which = ""
    a = b = 0
    pos = start
    while pos < end:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 1:
            if wire_type != _VARINT:
                return None
            request_id, pos = varint(data, pos)
        elif field in _ITEM_FIELDS:
            if wire_type != _LEN or which:
                return None
            which = _ITEM_FIELDS[field]
            a, pos = span(data, pos, end)
            b = pos
        else:
            pos = skip_field(data, pos, wire_type, end)
            if pos < 0:
                return None
    if pos != end:
        return None
    if not which:
        return BatchItem(request_id, "", None)
    request = request_of(data, a, b, which)
    return None if request is None else BatchItem(request_id, which, request)


def batch_items(data: bytes, start: int = 0, end: int = -1) -> list[BatchItem] | None:
    """The items of the SubmitBatchesRequest in data[start:end] (end -1: to the end of
    ``data``), in order; None: a shape left to protobuf."""
    limit = len(data) if end < 0 else end
    items: list[BatchItem] = []
    pos = start
    while pos < limit:
        key, pos = varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 1:
            if wire_type != _LEN:
                return None
            a, pos = span(data, pos, limit)
            item = _batch_item(data, a, pos)
            if item is None:
                return None
            items.append(item)
        else:
            pos = skip_field(data, pos, wire_type, limit)
            if pos < 0:
                return None
    return items if pos == limit else None


class LoggedBatch:
    """A decoded SequencedBatch (attribute names as in the message; ``items`` are the
    request's commands, ``skipped`` the indices that were not sequenced)."""

    def __init__(self, first_seq: int, ts_ns: int, epoch: int, count: int, *,
                 skipped: list[int], items: list[BatchItem]) -> None:
        self.first_seq = first_seq
        self.ts_ns = ts_ns
        self.epoch = epoch
        self.count = count
        self.skipped = skipped
        self.items = items


def _packed(data: bytes, start: int, end: int, out: list[int]) -> None:
    pos = start
    while pos < end:
        value, pos = varint(data, pos)
        out.append(value & 0xFFFFFFFF)
    if pos != end:
        raise WireError("packed field runs past its end")


def batch_head(
    data: bytes, start: int, stop: int
) -> tuple[int, int, int, int, list[int], int, int] | None:
    """(first_seq, ts_ns, epoch, count, skipped, request start, request end) of the
    SequencedBatch in data[start:stop]; None: a shape left to protobuf."""
    first = ts_ns = epoch = count = 0
    skipped: list[int] = []
    a = b = -1
    pos = start
    while pos < stop:
        key, pos = varint(data, pos)
        field = key >> 3
        wire = key & 7
        if 1 <= field <= 4:
            if wire != _VARINT:
                return None
            value, pos = varint(data, pos)
            if field == 1:
                first = value
            elif field == 2:
                ts_ns = int64(value)
            elif field == 3:
                epoch = value
            else:
                count = value & 0xFFFFFFFF
        elif field == 5:  # repeated uint32 skipped: packed or not
            if wire == _VARINT:
                value, pos = varint(data, pos)
                skipped.append(value & 0xFFFFFFFF)
            elif wire == _LEN:
                packed_start, pos = span(data, pos, stop)
                _packed(data, packed_start, pos, skipped)
            else:
                return None
        elif field == 6:
            if wire != _LEN or a >= 0:
                return None  # a second occurrence merges: protobuf's job
            a, pos = span(data, pos, stop)
            b = pos
        else:
            pos = skip_field(data, pos, wire, stop)
            if pos < 0:
                return None
    if pos != stop:
        return None
    if a < 0:
        a = b = 0  # no request logged: no items
    return first, ts_ns, epoch, count, skipped, a, b


def sequenced_batch(data: bytes) -> LoggedBatch | None:
    """A SequencedBatch record; None: a shape left to protobuf (e.g. ``batch`` twice)."""
    head = batch_head(data, 0, len(data))
    if head is None:
        return None
    first_seq, ts_ns, epoch, count, skipped, start, end = head
    items = batch_items(data, start, end) if end > start else []
    if items is None:
        return None
    return LoggedBatch(first_seq, ts_ns, epoch, count, skipped=skipped, items=items)
