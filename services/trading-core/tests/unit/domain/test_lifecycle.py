"""The order lifecycle table: legal transitions and nothing else."""

import pytest

from exchange_core.domain import InvariantViolation, codes
from exchange_core.domain.lifecycle import CANCEL, FULL_FILL, PARTIAL_FILL, table, transition


def test_open_orders_fill_partially_fully_or_cancel() -> None:
    assert transition(codes.STATUS_NEW, PARTIAL_FILL) == codes.STATUS_PARTIALLY_FILLED
    assert transition(codes.STATUS_PARTIALLY_FILLED, FULL_FILL) == codes.STATUS_FILLED
    assert transition(codes.STATUS_PARTIALLY_FILLED, CANCEL) == codes.STATUS_CANCELED


@pytest.mark.parametrize("status", [codes.STATUS_FILLED, codes.STATUS_CANCELED,
                                    codes.STATUS_REJECTED, codes.STATUS_EXPIRED, 0, 99])
@pytest.mark.parametrize("trigger", [PARTIAL_FILL, FULL_FILL, CANCEL])
def test_a_finished_order_cannot_move_again(status: int, trigger: int) -> None:
    with pytest.raises(InvariantViolation, match="ME-6"):
        transition(status, trigger)


def test_the_table_has_exactly_the_six_legal_transitions() -> None:
    assert len(table()) == 6
