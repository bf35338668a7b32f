"""Staging a TradingCoreBatch message, in compiled code (mypyc): its items as decoded
from the wire, each command mapped with the batch's one timestamp (bad input refused, not
sequenced), the mapped ones sequenced and applied as one unit (``CoreNode.execute_batch``:
one WAL record). The per-item loop was interpreted Python on the command path; the rules
are ``batch_service``'s (docs/adr/0002), unchanged.
"""

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from exchange.v1 import common_pb2
from exchange_core.adapters import command_mapping, request_wire
from exchange_core.adapters.wal_journal import BatchSource
from exchange_core.domain import Command, Result

_OVERLOADED: Final = command_mapping.Unsequenced(common_pb2.REJECT_CODE_OVERLOADED, "overloaded")


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


def wire_items(data: bytes) -> BatchItems | None:
    """The items of a serialized SubmitBatchesRequest decoded by ``request_wire``; None:
    a shape it leaves to protobuf."""
    decoded = request_wire.batch_items(data)
    if decoded is None:
        return None
    return [(item.request_id, item.which, item.request) for item in decoded]


def stage(node: Any, items: BatchItems, serialized: Callable[[], bytes]) -> StagedBatch:
    """Map, sequence and apply the commands of a batch on ``node`` (a ``CoreNode``;
    synchronous, on the loop); ``serialized()`` is the request as the WAL logs it."""
    engine = node.engine
    ts_ns: int = node.now_ns()
    overloaded: bool = node.overloaded()  # refuses new orders only: cancels go through
    commands: list[Command] = []
    skipped: list[int] = []
    staged: list[Item] = []
    index = -1
    for request_id, which, request in items:
        index += 1
        if not which:
            skipped.append(index)  # nothing to do; there is no reply type for it
            continue
        mapped: Command | command_mapping.Unsequenced
        if which == "place_order":
            mapped = command_mapping.place_order(engine, request, ts_ns)
            if overloaded and not isinstance(mapped, command_mapping.Unsequenced):
                mapped = _OVERLOADED
        elif which == "cancel_order":
            mapped = command_mapping.cancel_order(engine, request, ts_ns)
        else:
            mapped = command_mapping.cancel_all(engine, request, ts_ns)
        if isinstance(mapped, command_mapping.Unsequenced):
            skipped.append(index)
            staged.append(Item(request_id, which, request, mapped))
        else:
            commands.append(mapped)
            staged.append(Item(request_id, which, request, None))
    if not commands:
        return StagedBatch(0, node.epoch, staged, [])
    executed: tuple[int, list[Result]] = node.execute_batch(
        BatchSource(serialized(), skipped), commands, ts_ns)
    first, results = executed
    return StagedBatch(first + len(results) - 1, node.epoch, staged, results)
