"""Programmer-error checks that survive ``python -O`` (never a bare assert)."""


class InvariantViolation(RuntimeError):  # noqa: N818  (the house's name)
    """A ledger invariant (docs/INVARIANTS.md, LED-*) does not hold: a bug, not bad input."""


def invariant(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)
