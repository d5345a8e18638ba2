"""Ending a poll (by `!poll close` or at its closing time): the end event with the tally, and the
result as a message everyone sees; the tally itself, for `!poll results` too."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from api import JobContext, Text, Translator, job
from api.context import Telling
from api.render import lines
from commands.polls import rules
from storage import members, polls
from storage.models import Poll

JOB = "polls.close"
RETRY_S = 60  # a close whose start event is not sent yet is tried again this much later


def job_key(poll_id: int) -> str:
    return f"polls.close:{poll_id}"


async def current_tally(session: Any, poll: Poll) -> tuple[dict[int, int], int]:
    """Votes per option number and how many people voted. Native polls count the latest response
    of each person who is a member of the network now."""
    if poll.kind == rules.ANONYMOUS:
        return await polls.counts(session, poll.id), await polls.voters(session, poll.id)
    ids = [o["id"] for o in poll.options]
    votes = [v for v in await polls.votes(session, poll.id) if await _member(session, poll.network, v.user_id)]
    by_id = rules.tally(ids, [v.answers for v in votes], poll.max_selections)
    return {n: by_id[o] for n, o in enumerate(ids, start=1)}, sum(1 for v in votes
                                                                   if rules.valid_answers(v.answers, ids, poll.max_selections))


async def _member(session: Any, network: str, user_id: str) -> bool:
    row = await members.membership(session, network, user_id)
    return row is not None and row.state == "active"


def tally_lines(t: Translator, poll: Poll, counts: dict[int, int]) -> Text:
    return lines([t("polls.tally.line", number=n, option=o["text"], count=counts.get(n, 0))
                  for n, o in enumerate(poll.options, start=1)])


def result_text(t: Translator, poll: Poll, counts: dict[int, int], voters: int) -> Text:
    if not rules.counts_shown(poll.kind, True, voters):
        return lines([t("polls.result.title", number=poll.id, question=poll.question),
                      t("polls.tally.voters", count=voters), t("polls.result.too_few", least=rules.ANONYMOUS_LEAST)])
    best = rules.top({str(n): c for n, c in counts.items()})
    if not best:
        verdict = t("polls.result.nobody")
    else:
        names = ", ".join(poll.options[int(n) - 1]["text"] for n in best)
        verdict = t("polls.result.top" if len(best) == 1 else "polls.result.tie", answer=names,
                    count=counts[int(best[0])])
    return lines([t("polls.result.title", number=poll.id, question=poll.question), tally_lines(t, poll, counts),
                  t("polls.tally.voters", count=voters), verdict])


async def close(ctx: Telling, poll: Poll) -> bool:
    """Close the poll and post its result; False (nothing done) while its start event has not
    reached the room yet, so there is nothing to end."""
    start_id = None
    if poll.kind != rules.ANONYMOUS:
        start_id = await polls.start_event_id(ctx.db, poll)
        if start_id is None:
            return False
    if not await polls.close(ctx.db, poll, ctx.now):
        return True
    await ctx.schedule.cancel(job_key(poll.id))
    counts, voters = await current_tally(ctx.db, poll)
    t = await ctx.translator_for_network(poll.network)
    text = result_text(t, poll, counts, voters)
    if start_id is not None:
        by_id = {o["id"]: counts.get(n, 0) for n, o in enumerate(poll.options, start=1)}
        await ctx.chat.send_event(poll.room_id, rules.END, rules.end_content(start_id, text.plain, by_id))
    await ctx.chat.send(poll.room_id, text, notice=False)
    return True


@job(JOB, always=True)
async def close_at_time(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The closing time came (however late: a poll must not stay open because the bot was down)."""
    poll = await polls.get(ctx.db, int(payload["poll"]), lock=True)
    if poll is None or poll.closed_at is not None:
        return
    if not await close(ctx, poll):  # its start event is still on its way: try again shortly
        again = ctx.now + timedelta(seconds=RETRY_S)
        await ctx.schedule.at(f"{job_key(poll.id)}:{int(again.timestamp())}", JOB, again, payload)
