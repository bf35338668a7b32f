"""Fee and reserve arithmetic: ceil rounding, linear reserve, exact budget math."""

from hypothesis import given
from hypothesis import strategies as st

from exchange_core.domain.fees import affordable_lots, buy_unit, fee

rates = st.integers(0, 100_000)


def test_fees_round_up_to_the_quote_unit() -> None:
    assert fee(1_000, 2_000) == 2
    assert fee(1_001, 2_000) == 3  # 2.002 -> 3
    assert fee(0, 2_000) == 0
    assert fee(1, 0) == 0


@given(st.integers(1, 10**9), st.integers(1, 10**6), st.integers(1, 1_000), rates, rates)
def test_a_buy_reserve_per_lot_covers_any_fill_at_or_below_the_limit(
        price: int, k: int, q: int, max_rate: int, rate: int) -> None:
    """RISK-2: q * unit >= cost + fee for every fill price <= limit and rate <= max."""
    rate = min(rate, max_rate)
    unit = buy_unit(price, k, max_rate)
    for fill_price in (price, max(1, price // 2)):
        cost = fill_price * q * k
        assert q * unit >= cost + fee(cost, rate)


@given(st.integers(0, 10**7), st.integers(1, 10**4), st.integers(1, 100), rates)
def test_affordable_lots_is_the_largest_quantity_the_budget_pays_for(
        budget: int, price: int, k: int, rate: int) -> None:
    q = affordable_lots(budget, price, k, rate)
    cost = price * q * k
    assert cost + fee(cost, rate) <= budget
    more = price * (q + 1) * k
    assert more + fee(more, rate) > budget
