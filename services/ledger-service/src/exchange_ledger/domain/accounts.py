"""Accounts: (owner, asset, kind). Users have available and hold; the system has the fee
account and the treasury (``external``), which mirrors the outside world and so is the
only account allowed below zero."""

from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    AVAILABLE = "available"
    HOLD = "hold"
    FEE = "fee"
    EXTERNAL = "external"


FEES_OWNER = "@fees"
TREASURY_OWNER = "@treasury"


class AccountKey(NamedTuple):
    owner: str
    asset: str
    kind: str


def may_go_negative(account: AccountKey) -> bool:
    return account.kind == Kind.EXTERNAL


def is_valid_user(owner: str) -> bool:
    """User owners are 1..128 chars and never start with ``@`` (reserved for the system)."""
    return 0 < len(owner) <= 128 and not owner.startswith("@") and owner.isprintable()
