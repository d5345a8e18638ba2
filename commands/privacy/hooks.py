"""What other features must do when a person is forgotten, beyond erasing rows (which the storage
erasers do): e.g. give the seats the person held to the waiting list and tell those people.

    from commands.privacy.hooks import on_forget

    @on_forget
    async def before(ctx: Context) -> After | None:
        ...                      # runs before the erasers: look the person up, lock what you need
        async def after() -> None:
            ...                  # runs after the erasers, in the same transaction
        return after

A hook module is imported by its feature's handlers, so it is registered once commands are discovered.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from api import Context

After = Callable[[], Awaitable[None]]
Hook = Callable[[Context], Awaitable[After | None]]
_hooks: list[Hook] = []


def on_forget(fn: Hook) -> Hook:
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


async def before_erase(ctx: Context) -> list[After]:
    """Run every hook's first half; returns the second halves to run after erasing."""
    afters = []
    for hook in _hooks:
        after = await hook(ctx)
        if after is not None:
            afters.append(after)
    return afters
