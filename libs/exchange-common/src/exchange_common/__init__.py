"""The small library every service shares.

Public face: ids, money (exact decimal <-> scaled integer), Kafka topic names, the event
envelope, environment config, Kafka client helpers. Nothing here knows a service.
"""

from exchange_common.config import ConfigError, Secret, env_bool, env_int, env_str
from exchange_common.envelope import (
    EVENT_VERSION,
    make_envelope,
    make_event_id,
    timestamp_from_ns,
    timestamp_to_ns,
)
from exchange_common.ids import AccountId, Asset, EventId, OrderId, Symbol, TradeId
from exchange_common.money import MoneyFormatError, format_units, parse_units
from exchange_common.topics import ALL_TOPICS, TOPIC_KEYS, Topic

__all__ = [
    "ALL_TOPICS",
    "EVENT_VERSION",
    "TOPIC_KEYS",
    "AccountId",
    "Asset",
    "ConfigError",
    "EventId",
    "MoneyFormatError",
    "OrderId",
    "Secret",
    "Symbol",
    "Topic",
    "TradeId",
    "env_bool",
    "env_int",
    "env_str",
    "format_units",
    "make_envelope",
    "make_event_id",
    "parse_units",
    "timestamp_from_ns",
    "timestamp_to_ns",
]
