"""Leader lease in Redis with a fencing token (the epoch).

Why Redis and not a PostgreSQL advisory lock: see docs/fencing.md. In short, the lease
is a key with a TTL (``SET NX PX``) and the epoch is ``INCR`` of a counter, both in one
Lua script, so every new leader gets a strictly larger epoch than any before it, and a
leader that stops renewing loses the lease after the TTL without anyone's help.

The command path never talks to Redis: it asks ``is_valid()``, a comparison of the local
monotonic clock with the deadline computed from the last successful renewal (measured
from *before* the request was sent, minus a safety margin). A paused process (GC, SIGSTOP,
swap) therefore sees its own lease as expired the moment it resumes, before it can write.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '@' .. epoch, 'PX', ARGV[2])
  return epoch
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease:
    def __init__(
        self,
        client: redis.Redis,
        shard_id: str,
        *,
        ttl_ms: int = 3_000,
        safety_ratio: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._lease_key = f"exchange:core:{shard_id}:leader"
        self._epoch_key = f"exchange:core:{shard_id}:epoch"
        self._owner = f"{uuid.uuid4().hex}"
        self._ttl_ms = ttl_ms
        self._valid_s = ttl_ms / 1000 * (1 - safety_ratio)
        self._clock = clock
        self._epoch = 0
        self._value = ""
        self._valid_until = 0.0
        self._lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def epoch(self) -> int:
        return self._epoch

    def newest_epoch(self) -> int:
        """The newest epoch ever handed out for this shard (a Redis read; off the hot path)."""
        raw = self._client.get(self._epoch_key)
        return int(raw) if raw else 0

    def is_valid(self) -> bool:
        return not self._lost and self._epoch > 0 and self._clock() < self._valid_until

    def valid_until(self) -> float:
        """The clock instant the lease stops being valid (0.0: not held). With the default
        clock (``time.monotonic``) other processes can compare it with theirs."""
        return 0.0 if self._lost or self._epoch <= 0 else self._valid_until

    def try_acquire(self) -> int:
        """Take the lease if free: the new epoch, or 0 when another core holds it."""
        started = self._clock()
        epoch = int(self._acquire(keys=[self._lease_key, self._epoch_key],
                                  args=[self._owner, self._ttl_ms]))
        if epoch:
            self._epoch, self._value = epoch, f"{self._owner}@{epoch}"
            self._valid_until = started + self._valid_s
            self._lost = False
        return epoch

    def wait_acquire(self, stop: threading.Event, poll_s: float = 0.2) -> int:
        """Block until the lease is ours (returns the epoch) or ``stop`` is set (0)."""
        while not stop.is_set():
            try:
                epoch = self.try_acquire()
            except redis.RedisError as exc:
                log.warning("lease: Redis unavailable: %s", exc)
                epoch = 0
            if epoch:
                return epoch
            stop.wait(poll_s)
        return 0

    def renew(self) -> bool:
        started = self._clock()
        if int(self._renew(keys=[self._lease_key], args=[self._value, self._ttl_ms])):
            self._valid_until = started + self._valid_s
            return True
        return False

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew every TTL/4 on a background thread; call ``on_lost`` once if it is lost."""

        def run() -> None:
            while not self._stop.wait(self._ttl_ms / 4000):
                try:
                    renewed = self.renew()
                except redis.RedisError as exc:
                    log.warning("lease: renew failed: %s", exc)
                    renewed = self._clock() < self._valid_until
                if not renewed or not self.is_valid():
                    self._lost = True
                    log.error("lease lost for epoch %d", self._epoch)
                    on_lost()
                    return

        self._thread = threading.Thread(target=run, name="lease-keeper", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._value and not self._lost:
            try:
                self._release(keys=[self._lease_key], args=[self._value])
            except redis.RedisError as exc:
                log.warning("lease: release failed (it will expire): %s", exc)
        self._lost = True
