"""A wake-up at a moment of the bot's clock, on the event loop: all the schedule needs of a timer
(the schedule table is the record; bot/scheduler.py). APScheduler did this before, and loaded
its thread and process pools (multiprocessing, ~1.2 MiB resident) and scanned every installed
package's entry points at start (~0.1 s) for two timers."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime


class WakeUp:
    """Calls `fire` once the clock reads `when` (at once if it already does). Armed again, the
    earlier moment is forgotten. The wait is measured on the loop's monotonic clock; should the
    bot's clock read earlier than `when` on waking (the wall clock was set back), it waits on."""

    def __init__(self, clock: Callable[[], datetime], fire: Callable[[], None]) -> None:
        self.clock = clock
        self.fire = fire
        self._when: datetime | None = None
        self._handle: asyncio.TimerHandle | None = None

    def at(self, when: datetime) -> None:
        self.cancel()
        self._when = when
        delay = max(0.0, (when - self.clock()).total_seconds())
        self._handle = asyncio.get_running_loop().call_later(delay, self._woken)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._when = None

    def _woken(self) -> None:
        when, self._handle = self._when, None
        if when is not None and self.clock() < when:
            self.at(when)
            return
        self._when = None
        self.fire()
