"""Business refusals are values: a stable string code, the platform's RejectCode number,
and a message for humans. The HTTP layer maps codes to statuses in one table."""

from dataclasses import dataclass
from enum import StrEnum

from exchange.v1 import common_pb2


class Refusal(StrEnum):
    INVALID_REQUEST = "invalid_request"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_ACCOUNT = "invalid_account"
    UNKNOWN_ASSET = "unknown_asset"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXISTS_WITH_DIFFERENT_CONTENT = "exists_with_different_content"
    NOT_FOUND = "not_found"
    STALE_EPOCH = "stale_epoch"
    SELF_APPROVAL = "self_approval"
    ALREADY_APPROVED = "already_approved"
    NOT_APPROVED = "not_approved"
    ALREADY_APPLIED = "already_applied"
    ALREADY_REVERSED = "already_reversed"


_REJECT_CODES: dict[Refusal, int] = {
    Refusal.INVALID_REQUEST: common_pb2.REJECT_CODE_UNSPECIFIED,
    Refusal.INVALID_AMOUNT: common_pb2.REJECT_CODE_INVALID_AMOUNT,
    Refusal.INVALID_ACCOUNT: common_pb2.REJECT_CODE_INVALID_ACCOUNT,
    Refusal.UNKNOWN_ASSET: common_pb2.REJECT_CODE_INVALID_AMOUNT,
    Refusal.INSUFFICIENT_FUNDS: common_pb2.REJECT_CODE_INSUFFICIENT_FUNDS,
    Refusal.EXISTS_WITH_DIFFERENT_CONTENT: common_pb2.REJECT_CODE_DUPLICATE_EVENT,
    Refusal.NOT_FOUND: common_pb2.REJECT_CODE_ORDER_NOT_FOUND,
    Refusal.STALE_EPOCH: common_pb2.REJECT_CODE_STALE_EPOCH,
}


@dataclass(frozen=True, slots=True)
class Rejection:
    code: Refusal
    message: str

    @property
    def reject_code(self) -> int:
        """The platform RejectCode number (UNSPECIFIED for ledger-only workflow refusals)."""
        return _REJECT_CODES.get(self.code, common_pb2.REJECT_CODE_UNSPECIFIED)
