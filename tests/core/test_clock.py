"""The fake clock makes time-dependent tests exact and instant."""

from __future__ import annotations

import asyncio

import pytest

from ollama_core import Clock, FakeClock, MonotonicClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(MonotonicClock(), Clock)


async def test_sleepers_wake_in_deadline_order_only_when_time_passes() -> None:
    clock = FakeClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("b", 2)), asyncio.create_task(sleeper("a", 1))]
    await asyncio.sleep(0)
    assert clock.pending == 2
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert woke == ["a"]
    clock.advance(1)
    await asyncio.gather(*tasks)
    assert woke == ["a", "b"]
    assert clock.now() == 2.0
    assert clock.sleeps == [2, 1]


async def test_autoadvance_moves_time_by_exactly_the_sleep() -> None:
    clock = FakeClock(100.0, autoadvance=True)
    await clock.sleep(2.5)
    await clock.sleep(0)
    assert clock.now() == 102.5
    assert clock.sleeps == [2.5, 0.0]


def test_time_never_goes_backwards() -> None:
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


async def test_cancelled_sleeper_is_not_left_pending() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0
