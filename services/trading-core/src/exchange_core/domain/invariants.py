"""Errors of the domain and the invariant helper.

Exception tree (business outcomes are reject codes, never exceptions)::

    DomainError
    ├── ConfigError          a market / engine configuration is invalid (startup)
    ├── SnapshotError        snapshot bytes are malformed or of another version
    └── InvariantViolation   a programmer error: state broke an ME-*/RISK-* invariant
"""

from typing import NoReturn


class DomainError(Exception):
    """Base of every exception the domain raises."""


class ConfigError(DomainError):
    """Invalid configuration (not a business outcome: fix the config)."""


class SnapshotError(DomainError):
    """Snapshot bytes cannot be decoded into a valid engine."""


class InvariantViolation(DomainError):  # noqa: N818 - the name is the house's vocabulary
    """A checked invariant does not hold; the state must not be used further."""


def violated(invariant_id: str, detail: str) -> NoReturn:
    """Raise InvariantViolation naming the invariant (see docs/INVARIANTS.md)."""
    raise InvariantViolation(f"{invariant_id}: {detail}")


def require(condition: bool, invariant_id: str, detail: str) -> None:
    """Raise InvariantViolation unless ``condition`` (works under ``python -O``)."""
    if not condition:
        violated(invariant_id, detail)
