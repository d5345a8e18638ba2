"""Erasure on time: one sweep a day erases the text and file of cases whose session ended the
configured number of days ago, and of cases never scheduled after the longer time (their
case-bringers told a week before); it tells each control room how many, never which. Also what
a person leaving takes with them."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta, timezone

from api import Context, JobContext, job, on_leave
from api.render import code
from storage import cases, conversations, networks

SWEEP = "cases.sweep"
INTAKE = "cases.intake"  # the intake flow's name (commands/cases/intake.py FLOW)
SWEEP_AT = time(3, 0, tzinfo=timezone.utc)  # a quiet hour


def next_sweep(now: datetime) -> datetime:
    today = datetime.combine(now.astimezone(timezone.utc).date(), SWEEP_AT)
    return today if today > now else today + timedelta(days=1)


async def keep_sweeping(ctx: Context | JobContext) -> None:
    """Make sure the next daily sweep is scheduled (one row a day, whatever number of cases)."""
    due = next_sweep(ctx.now)
    await ctx.schedule.at(f"{SWEEP}:{due.date().isoformat()}", SWEEP, due, {})


def erase_file(ctx: Context | JobContext, handle: str | None) -> None:
    if handle and ctx.vault is not None:
        ctx.vault.erase(handle)


@job(SWEEP, always=True)
async def sweep(ctx: JobContext, payload: dict) -> None:
    keep = ctx.retention
    purged: Counter[str] = Counter()
    for row in await cases.due_for_purge(ctx.db, ctx.now, keep.after_session, keep.unscheduled):
        erase_file(ctx, cases.erase_content(row, cases.PURGED, ctx.now))
        purged[row.network] += 1
    for row in await cases.to_warn(ctx.db, ctx.now, keep.unscheduled, keep.warn_before):
        row.warned_at = ctx.now
        if row.user_id:
            erased_on = (row.created_at + keep.unscheduled).date()
            await ctx.tell(row.user_id, "cases.warn_unscheduled", about_network=row.network, private=True, ref=code(row.ref),
                           title=row.title or "", day=lambda t, d=erased_on: t.date(d),
                           withdraw=code(f"{ctx.prefix}case withdraw {row.ref}"))
    await conversations.drop_expired(ctx.db, INTAKE, ctx.now)  # intakes left half-way: their text too
    if ctx.vault is not None:  # files of an intake that was stopped or left, or of a step that failed
        used = await cases.handles_in_use(ctx.db)
        for handle in ctx.vault.handles():
            if handle not in used:
                ctx.vault.erase(handle)
    for network, count in sorted(purged.items()):
        room = await networks.room_id(ctx.db, network, "control")
        if room:
            await ctx.post(room, "cases.control.purged", about_network=network, count=count)
    due = next_sweep(ctx.now + timedelta(minutes=1))
    await ctx.schedule.at(f"{SWEEP}:{due.date().isoformat()}", SWEEP, due, {})


@on_leave
async def _leave(ctx: Context, user_id: str, network: str | None) -> None:
    """Leaving a network withdraws the person's open cases there; being forgotten erases every
    file of theirs now (the rows go with the storage eraser, which runs next)."""
    for row in await cases.of_user(ctx.db, user_id):
        if network is None:
            erase_file(ctx, row.file_handle)
        elif row.network == network and row.state in cases.OPEN:
            erase_file(ctx, cases.erase_content(row, cases.WITHDRAWN, ctx.now))
