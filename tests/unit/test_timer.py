"""The schedule's wake-up timer (bot/timer.py): it fires at the clock's moment, once, and a
clock set back makes it wait on instead of firing early."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.timer import WakeUp


def now() -> datetime:
    return datetime.now(timezone.utc)


async def test_it_fires_once_at_its_moment_and_at_once_for_a_moment_past() -> None:
    fired: list[str] = []
    done = asyncio.Event()
    later = WakeUp(now, lambda: (fired.append("later"), done.set()))
    past = WakeUp(now, lambda: fired.append("past"))
    later.at(now() + timedelta(milliseconds=50))
    past.at(now() - timedelta(hours=1))
    await asyncio.wait_for(done.wait(), 5)
    assert fired == ["past", "later"]


async def test_armed_again_it_forgets_the_earlier_moment_and_cancelled_it_never_fires() -> None:
    fired: list[str] = []
    marker = asyncio.Event()
    moved = WakeUp(now, lambda: fired.append("moved"))
    cancelled = WakeUp(now, lambda: fired.append("cancelled"))
    moved.at(now())
    moved.at(now() + timedelta(hours=1))
    cancelled.at(now() + timedelta(milliseconds=10))
    cancelled.cancel()
    WakeUp(now, marker.set).at(now() + timedelta(milliseconds=100))
    await asyncio.wait_for(marker.wait(), 5)
    assert fired == []


async def test_a_clock_set_back_while_it_waits_makes_it_wait_on() -> None:
    offset = timedelta(0)
    fired = asyncio.Event()
    marker = asyncio.Event()
    timer = WakeUp(lambda: now() + offset, fired.set)
    timer.at(now() + timedelta(milliseconds=50))
    offset = -timedelta(minutes=5)  # the wall clock was set back by five minutes
    WakeUp(now, marker.set).at(now() + timedelta(milliseconds=200))
    await asyncio.wait_for(marker.wait(), 5)
    assert not fired.is_set()
    timer.cancel()
