import asyncio
import functools

import pytest

from exchange_core.app.core_node import NotServing
from exchange_core.app.durability import DurabilityGate


def _record(done: list[int], seq: int, _future: object) -> None:
    done.append(seq)


def test_replies_wait_for_the_durable_seq_and_resolve_in_order() -> None:
    async def scenario() -> list[int]:
        gate = DurabilityGate(asyncio.get_running_loop(), durable_seq=0)
        done: list[int] = []
        futures = {seq: gate.wait(seq) for seq in (1, 2, 3)}
        for seq, future in futures.items():
            future.add_done_callback(functools.partial(_record, done, seq))
        await asyncio.sleep(0)
        assert done == [] and gate.waiting == 3
        gate.release(2)
        await asyncio.sleep(0)
        assert done == [1, 2]
        gate.release(3)
        await asyncio.sleep(0)
        return done

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_an_already_durable_seq_resolves_at_once() -> None:
    async def scenario() -> bool:
        gate = DurabilityGate(asyncio.get_running_loop(), durable_seq=10)
        return gate.wait(7).done()

    assert asyncio.run(scenario())


def test_a_fenced_node_fails_every_pending_and_later_wait() -> None:
    async def scenario() -> None:
        gate = DurabilityGate(asyncio.get_running_loop())
        pending = gate.wait(1)
        gate.fail_all(NotServing("lease lost"))
        with pytest.raises(NotServing):
            await pending
        with pytest.raises(NotServing):
            await gate.wait(2)

    asyncio.run(scenario())
