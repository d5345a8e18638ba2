"""A generic "are you sure?" step for destructive or bulk commands.

A feature declares what happens on confirmation and asks for it from its handler:

    from commands.confirm.flows import ask, confirmable

    @confirmable("event.cancel")
    async def cancel_confirmed(ctx: Context, args: dict) -> Reply | None:
        ...                       # runs inside the !confirm command's transaction; re-check
                                  # permissions and state here, they may have changed

    @command("event cancel", ...)
    async def cancel(ctx, event: EventRef) -> Reply:
        return await ask(ctx, "event.cancel", {"event": event.id},
                         summary=ctx.t("event.cancel_summary", title=event.title))

The pending confirmation lives in the conversations table (flow "confirm"), belongs to the person
in that room, and expires after 10 minutes. `!confirm` runs it; `!stop` drops it (and any flow).
Action names must be unique; args must be JSON-serialisable.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from api import Context, Reply
from api.render import Text
from storage import confirmations

Action = Callable[[Context, dict[str, Any]], Awaitable[Reply | None]]
_actions: dict[str, Action] = {}


def confirmable(name: str) -> Callable[[Action], Action]:
    def decorate(fn: Action) -> Action:
        if name in _actions and _actions[name] is not fn:
            raise ValueError(f"confirmable action {name!r} declared twice")
        _actions[name] = fn
        return fn

    return decorate


def action(name: str) -> Action | None:
    return _actions.get(name)


async def ask(ctx: Context, name: str, args: dict[str, Any], *, summary: Text | str,
              ttl: timedelta = confirmations.TTL) -> Reply:
    """Remember the pending action and return the question to send back."""
    if name not in _actions:
        raise KeyError(f"no confirmable action {name!r}")
    await confirmations.ask(ctx.db, ctx.sender, ctx.room_id, name, args, ctx.now, ttl)
    minutes = int(ttl.total_seconds() // 60)
    return ctx.reply("confirm.ask", summary=summary, prefix=ctx.prefix, minutes=minutes)
