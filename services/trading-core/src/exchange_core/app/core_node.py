"""The leader's command entry point: sequencing, back-pressure, the commit line, stepping
down. Runs on the event loop thread (the single sequencer thread)."""

import asyncio
import logging
from collections.abc import Callable, Sequence

from exchange_core.app.durability import DurabilityGate
from exchange_core.app.sequencer import Sequencer
from exchange_core.domain import Command, DomainError, Engine, Result

log = logging.getLogger(__name__)


class NotServing(Exception):  # noqa: N818 - an availability answer, not a failure
    """This node does not take commands now (standby, draining, fenced): retry elsewhere."""


class CoreNode:
    def __init__(
        self,
        engine: Engine,
        sequencer: Sequencer,
        gate: DurabilityGate,
        *,
        max_in_flight: int,
        balance_positions: dict[int, int],
        on_fatal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.engine = engine
        self.sequencer = sequencer
        self.gate = gate
        self._max_in_flight = max_in_flight
        self.balance_positions = balance_positions
        self._on_fatal = on_fatal
        self._stop_reason: str | None = None

    @property
    def epoch(self) -> int:
        return self.sequencer.epoch

    @property
    def serving(self) -> bool:
        return self._stop_reason is None

    def overloaded(self) -> bool:
        """Too many sequenced commands wait for their fsync: refuse new ones (bounded)."""
        return self.sequencer.last_seq - self.gate.durable_seq >= self._max_in_flight

    def submit(self, source: object, command: Command) -> tuple[Result, "asyncio.Future[None]"]:
        """Sequence and apply now; the future resolves when the command is durable."""
        result, seq = self.execute(source, command)
        return result, self.gate.wait(seq)

    def execute(self, source: object, command: Command) -> tuple[Result, int]:
        """Sequence and apply now; the caller must not reply before ``gate.wait(seq)``."""
        if self._stop_reason is not None:
            raise NotServing(self._stop_reason)
        try:
            seq, result = self.sequencer.execute(source, command)
        except DomainError as exc:
            self.fatal(f"engine failed: {exc!r}")
            raise NotServing(self._stop_reason or "engine failed") from exc
        except Exception as exc:  # WAL closed (fenced or I/O error)
            self.fatal(f"journal refused the command: {exc}")
            raise NotServing(self._stop_reason or "journal failed") from exc
        return result, seq

    def now_ns(self) -> int:
        """The time to map a batch's commands with (see ``execute_batch``)."""
        return self.sequencer.now_ns()

    def execute_batch(
        self, source: object, commands: Sequence[Command], ts_ns: int
    ) -> tuple[int, list[Result]]:
        """Sequence and apply a batch now (one journal record); (first seq, results). The
        caller must not reply before ``gate.wait(first seq + len(results) - 1)``."""
        if self._stop_reason is not None:
            raise NotServing(self._stop_reason)
        try:
            return self.sequencer.execute_batch(source, commands, ts_ns)
        except DomainError as exc:
            self.fatal(f"engine failed: {exc!r}")
            raise NotServing(self._stop_reason or "engine failed") from exc
        except Exception as exc:  # WAL closed (fenced or I/O error)
            self.fatal(f"journal refused the batch: {exc}")
            raise NotServing(self._stop_reason or "journal failed") from exc

    def submit_balance(
        self, source: object, command: Command, partition: int, offset: int
    ) -> tuple[Result, "asyncio.Future[None]"]:
        outcome = self.submit(source, command)
        self.balance_positions[partition] = max(self.balance_positions.get(partition, 0),
                                                offset + 1)
        return outcome

    def durable_view(self) -> "asyncio.Future[None]":
        """Resolves once everything a query may have seen so far is durable."""
        return self.gate.wait(self.sequencer.last_seq)

    def stop_accepting(self, reason: str) -> None:
        if self._stop_reason is None:
            log.warning("no longer accepting commands: %s", reason)
            self._stop_reason = reason

    def fatal(self, reason: str) -> None:
        """Fenced, disk failure or engine bug: refuse all pending replies and stop."""
        self.stop_accepting(reason)
        self.gate.fail_all(NotServing(reason))
        self._on_fatal(reason)
