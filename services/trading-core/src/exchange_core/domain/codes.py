"""Stable numeric codes the domain returns: reject codes, enums of the contracts.

The numbers are the contract's (`exchange.v1.common_pb2`); they are copied into plain
``Final`` ints so the hot path compares small ints and never touches protobuf objects.
``tests/unit/domain/test_codes.py`` checks every constant against the generated enum.
"""

from typing import Final

# RejectCode
OK: Final = 1
UNKNOWN_SYMBOL: Final = 1001
INVALID_SIDE: Final = 1002
INVALID_ORDER_TYPE: Final = 1003
INVALID_TIME_IN_FORCE: Final = 1004
INVALID_PRICE: Final = 1005
PRICE_OFF_TICK: Final = 1006
INVALID_QUANTITY: Final = 1007
QUANTITY_OFF_LOT: Final = 1008
QUANTITY_BELOW_MIN: Final = 1009
QUANTITY_ABOVE_MAX: Final = 1010
NOTIONAL_BELOW_MIN: Final = 1011
MARKET_BUY_NEEDS_BOUND: Final = 1012
INVALID_ACCOUNT: Final = 1013
INVALID_CLIENT_ORDER_ID: Final = 1014
INVALID_AMOUNT: Final = 1015
INVALID_MODE: Final = 1016
INSUFFICIENT_FUNDS: Final = 2001
PRICE_OUTSIDE_BAND: Final = 2002
RATE_LIMITED: Final = 2003
TOO_MANY_OPEN_ORDERS: Final = 2004
SYMBOL_HALTED: Final = 3001
SYMBOL_CANCEL_ONLY: Final = 3002
SYMBOL_POST_ONLY: Final = 3003
POST_ONLY_WOULD_TAKE: Final = 3004
FOK_UNFILLABLE: Final = 3005
NO_LIQUIDITY: Final = 3006
SELF_TRADE_PREVENTED: Final = 3007
DUPLICATE_CLIENT_ORDER_ID: Final = 4001
ORDER_NOT_FOUND: Final = 4002
DUPLICATE_EVENT: Final = 4003

# Side
BUY: Final = 1
SELL: Final = 2

# OrderType
LIMIT: Final = 1
MARKET: Final = 2

# TimeInForce (UNSPECIFIED means GTC for LIMIT, IOC for MARKET)
TIF_UNSPECIFIED: Final = 0
GTC: Final = 1
IOC: Final = 2
FOK: Final = 3

# SelfTradePrevention (UNSPECIFIED means NONE)
STP_UNSPECIFIED: Final = 0
STP_NONE: Final = 1
STP_CANCEL_NEWEST: Final = 2
STP_CANCEL_OLDEST: Final = 3
STP_CANCEL_BOTH: Final = 4

# SymbolMode
MODE_NORMAL: Final = 1
MODE_POST_ONLY: Final = 2
MODE_CANCEL_ONLY: Final = 3
MODE_HALTED: Final = 4

# OrderStatus
STATUS_UNSPECIFIED: Final = 0
STATUS_NEW: Final = 1
STATUS_PARTIALLY_FILLED: Final = 2
STATUS_FILLED: Final = 3
STATUS_CANCELED: Final = 4
STATUS_REJECTED: Final = 5
STATUS_EXPIRED: Final = 6

# Liquidity
MAKER: Final = 1
TAKER: Final = 2

# CancelReason
CANCEL_USER: Final = 1
CANCEL_ALL: Final = 2
CANCEL_IOC_REMAINDER: Final = 3
CANCEL_FOK_UNFILLABLE: Final = 4
CANCEL_MARKET_REMAINDER: Final = 5
CANCEL_SELF_TRADE_PREVENTION: Final = 6
CANCEL_ADMIN: Final = 7
