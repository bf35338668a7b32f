"""Bearer tokens with roles. Tokens are compared in constant time and never logged."""

import hmac
from dataclasses import dataclass

from exchange_ledger.config import ApiToken


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]


class TokenAuthority:
    def __init__(self, tokens: tuple[ApiToken, ...]) -> None:
        self._tokens = tokens

    def identify(self, authorization: str | None) -> Principal | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization.removeprefix("Bearer ").strip().encode()
        roles: set[str] = set()
        name: str | None = None
        for token in self._tokens:  # every token compared: no early exit timing leak
            if hmac.compare_digest(presented, token.token.reveal().encode()):
                name = token.principal
                roles.add(token.role)
        return None if name is None else Principal(name, frozenset(roles))
