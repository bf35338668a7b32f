"""Settings: tokens and assets parse strictly; secrets never show."""

import pytest

from exchange_common.config import ConfigError
from exchange_ledger.adapters.auth import TokenAuthority
from exchange_ledger.config import Settings, parse_assets, parse_tokens


def test_tokens_parse_into_roles_and_principals_and_hide_the_secret() -> None:
    tokens = parse_tokens("aaaaaaaaaaaaaaaa:admin:alice, bbbbbbbbbbbbbbbb:approver:bob")
    assert [(t.role, t.principal) for t in tokens] == [("admin", "alice"), ("approver", "bob")]
    assert "aaaa" not in repr(tokens)


@pytest.mark.parametrize("raw", ["short:admin:alice", "aaaaaaaaaaaaaaaa:root:alice",
                                 "aaaaaaaaaaaaaaaa:admin"])
def test_malformed_tokens_are_refused_at_start(raw: str) -> None:
    with pytest.raises(ConfigError):
        parse_tokens(raw)


def test_a_bearer_token_identifies_its_principal_and_roles() -> None:
    authority = TokenAuthority(parse_tokens("aaaaaaaaaaaaaaaa:admin:alice"))
    principal = authority.identify("Bearer aaaaaaaaaaaaaaaa")
    assert principal is not None and principal.name == "alice"
    assert principal.roles == frozenset({"admin"})
    assert authority.identify("Bearer nope") is None
    assert authority.identify(None) is None


def test_assets_need_a_scale() -> None:
    assert parse_assets("BTC:8,USDT:6") == {"BTC": 8, "USDT": 6}
    with pytest.raises(ConfigError):
        parse_assets("BTC")


def test_defaults_match_the_platform() -> None:
    settings = Settings.from_env({})
    assert settings.http_port == 8082 and settings.kafka_enabled is False
    assert "exchange" not in repr(settings.database_url)
