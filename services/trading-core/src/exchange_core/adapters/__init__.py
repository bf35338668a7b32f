"""Adapters of the trading core: gRPC, WAL, snapshots, outbox, Kafka, Redis, S3.

The byte encoders load from the mypyc build when a fresh one exists (exchange_core.compiled).
"""

from exchange_core import compiled as _compiled

_compiled.activate(__path__, "adapters")
