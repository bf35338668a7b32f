"""The order lifecycle as ONE table: (status, trigger) -> status.

Anything not in the table is illegal and raises InvariantViolation (ME-6). Rejected
orders never get a state of their own in the book (a reject creates no order).
"""

from typing import Final

from exchange_core.domain import codes
from exchange_core.domain.invariants import violated

# Triggers
PARTIAL_FILL: Final = 1
FULL_FILL: Final = 2
CANCEL: Final = 3

_STATES: Final = 8
_TABLE: Final[dict[tuple[int, int], int]] = {
    (codes.STATUS_NEW, PARTIAL_FILL): codes.STATUS_PARTIALLY_FILLED,
    (codes.STATUS_NEW, FULL_FILL): codes.STATUS_FILLED,
    (codes.STATUS_NEW, CANCEL): codes.STATUS_CANCELED,
    (codes.STATUS_PARTIALLY_FILLED, PARTIAL_FILL): codes.STATUS_PARTIALLY_FILLED,
    (codes.STATUS_PARTIALLY_FILLED, FULL_FILL): codes.STATUS_FILLED,
    (codes.STATUS_PARTIALLY_FILLED, CANCEL): codes.STATUS_CANCELED,
}

# Flat list for the hot path: index status * _STATES + trigger; 0 = illegal.
_NEXT: Final[list[int]] = [0] * (_STATES * 4)
for (_state, _trigger), _target in _TABLE.items():
    _NEXT[_state * 4 + _trigger] = _target

OPEN_STATES: Final = frozenset({codes.STATUS_NEW, codes.STATUS_PARTIALLY_FILLED})


def transition(status: int, trigger: int) -> int:
    """Next status, or InvariantViolation ME-6 for an illegal (status, trigger)."""
    target = _NEXT[status * 4 + trigger] if 0 <= status < _STATES and 0 < trigger < 4 else 0
    if not target:
        violated("ME-6", f"illegal order transition: status {status} on trigger {trigger}")
    return target


def table() -> dict[tuple[int, int], int]:
    """A copy of the lifecycle table (for docs and tests)."""
    return dict(_TABLE)
