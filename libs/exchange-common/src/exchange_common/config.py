"""Reading configuration from the environment: once, with the key named in every error."""

import os
from collections.abc import Mapping


class ConfigError(ValueError):
    """A required variable is missing or a value does not parse."""


class Secret:
    """A string that never shows itself in ``repr``/``str`` (so never in a log)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str:
    source = os.environ if env is None else env
    value = source.get(name)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"missing required environment variable {name}")
        return default
    return value


def env_int(name: str, default: int | None = None, env: Mapping[str, str] | None = None) -> int:
    raw = env_str(name, None if default is None else str(default), env)
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_bool(name: str, default: bool = False, env: Mapping[str, str] | None = None) -> bool:
    raw = env_str(name, "true" if default else "false", env).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
