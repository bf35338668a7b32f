"""The commit line on the event loop: a reply waits here until its seq is durable."""

import asyncio
from collections import deque


class DurabilityGate:
    """Futures resolved in seq order when the WAL reports a durable seq.

    ``release`` runs on the loop (the WAL thread schedules it with
    ``call_soon_threadsafe``, once per group commit, not once per command).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, durable_seq: int = 0) -> None:
        self._loop = loop
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._durable = durable_seq
        self._failure: BaseException | None = None

    @property
    def durable_seq(self) -> int:
        return self._durable

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def wait(self, seq: int) -> "asyncio.Future[None]":
        future: asyncio.Future[None] = self._loop.create_future()
        if self._failure is not None:
            future.set_exception(self._failure)
        elif seq <= self._durable:
            future.set_result(None)
        else:
            self._waiting.append((seq, future))
        return future

    def release(self, durable_seq: int) -> None:
        self._durable = max(self._durable, durable_seq)
        waiting = self._waiting
        while waiting and waiting[0][0] <= self._durable:
            _, future = waiting.popleft()
            if not future.done():
                future.set_result(None)

    def fail_all(self, error: BaseException) -> None:
        """Nothing pending will ever be durable (fenced, disk failure): refuse them all."""
        self._failure = error
        while self._waiting:
            _, future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
