import pytest

from exchange_common.config import ConfigError, Secret, env_bool, env_int, env_str


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="LEDGER_DATABASE_URL"):
        env_str("LEDGER_DATABASE_URL", env={})


def test_defaults_apply_when_unset_or_empty() -> None:
    assert env_int("PORT", 8082, env={}) == 8082
    assert env_int("PORT", 8082, env={"PORT": ""}) == 8082
    assert env_bool("ON", env={"ON": "yes"}) is True


def test_bad_values_are_reported_with_their_key() -> None:
    with pytest.raises(ConfigError, match="PORT must be an integer"):
        env_int("PORT", env={"PORT": "eighty"})
    with pytest.raises(ConfigError, match="FLAG must be true or false"):
        env_bool("FLAG", env={"FLAG": "maybe"})


def test_secret_never_shows_its_value() -> None:
    secret = Secret("s3cr3t")
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in f"{secret}"
    assert secret.reveal() == "s3cr3t"
