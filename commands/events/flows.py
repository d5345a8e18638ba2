"""`!event create` with no form: a step-by-step conversation that asks for each field in turn,
judges every answer with the same parsers as the one-message form, and keeps its state in the
conversations table (a restart resumes it; `!stop` leaves it)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from api import Context, Reply, flow, starts_flow
from api.render import Text, code, lines
from commands.events import words
from commands.events.common import coordinator_networks, default_timezone, problem_text, problems_text
from commands.events.fields import local
from commands.events.form import FIELDS, REQUIRED, FieldProblem, Known, Problem, build, parse_value
from commands.events.store import create_draft
from commands.events.views import details
from storage import conversations, events
from storage.models import Event

FLOW = "events.create"
TTL = timedelta(minutes=30)
STEPS = tuple(f for f in FIELDS if f != "network")
SKIP = "-"


def _key(step: str) -> str:
    return "events.flow.ask." + step.replace(" ", "_").replace("-", "_")


def _question(ctx: Context, step: str) -> Text:
    question = ctx.t(_key(step))
    return question if step in REQUIRED or step == "network" else question + " " + ctx.t("events.flow.optional")


async def begin(ctx: Context, here: str | None) -> Reply:
    mine = coordinator_networks(ctx)
    network = here or (mine[0] if len(mine) == 1 else None)
    step = "title" if network else "network"
    await conversations.start(ctx.db, ctx.sender, ctx.room_id, FLOW, step, {"network": network, "raw": {}},
                              ctx.now + TTL)
    intro = ctx.t("events.flow.intro", stop=code(f"{ctx.prefix}stop"), minutes=int(TTL.total_seconds() // 60))
    if step == "network":
        return Reply(lines([intro, _question(ctx, step), ctx.t("events.flow.networks", networks=", ".join(mine))]))
    return Reply(lines([intro, _question(ctx, step)]))


@starts_flow(FLOW)
async def begin_with(ctx: Context, values: dict) -> Reply:
    """The form begun by another feature with the title given (a picked topic); `origin` is kept
    on the event it creates, so that feature hears when the event is published."""
    network, title = values["network"], values["title"]
    raw, answered = {"title": title}, ["title"]
    try:
        parse_value("title", title, (await _parsed(ctx, network, {}))[0])
    except FieldProblem:  # too long for a title: ask for one, with the proposal shown
        raw, answered = {}, []
    step = _next("title", raw, answered) if raw else "title"
    await conversations.start(ctx.db, ctx.sender, ctx.room_id, FLOW, step,
                              {"network": network, "raw": raw, "answered": answered, "origin": values.get("origin")},
                              ctx.now + TTL)
    intro = ctx.t("events.flow.intro", stop=code(f"{ctx.prefix}stop"), minutes=int(TTL.total_seconds() // 60))
    return Reply(lines([intro, ctx.t("events.flow.prefilled", title=title), _question(ctx, step)]))


def _next(step: str, raw: dict[str, str], answered: list[str]) -> str | None:
    """The next field not answered yet (after a re-asked one, the rest are kept)."""
    order = ("network", *STEPS)
    for candidate in order[order.index(step) + 1:]:
        if candidate in answered:
            continue
        if candidate == "workshops per member" and not raw.get("workshops"):
            continue
        if candidate == "offer hours" and raw.get("waitlist mode", "offer").lower() == "auto":
            continue
        return candidate
    return None


async def _parsed(ctx: Context, network: str, raw: dict[str, str]) -> tuple[Known, str | None]:
    """The answers so far, parsed in form order (a later field leans on an earlier one), and the
    first that no longer parses (time passed while answering)."""
    known = Known(ctx.now, await default_timezone(ctx, network), words=words.vocabulary())
    failing = None
    for name in STEPS:
        if name in raw:
            try:
                known.values[name] = parse_value(name, raw[name], known)
            except FieldProblem:
                failing = failing or name
    return known, failing


@flow(FLOW)
async def create_step(ctx: Context, text: str) -> Reply | None:
    row = await conversations.get(ctx.db, ctx.sender, ctx.room_id, FLOW, ctx.now)
    if row is None:
        return None
    data, step, answer = dict(row.data), row.step, text.strip()
    notes: list[Problem] = []
    raw: dict[str, str] = dict(data.get("raw", {}))
    answered: list[str] = list(data.get("answered", []))
    if step == "network":
        mine = coordinator_networks(ctx)
        if answer.lower() not in mine:
            return Reply(lines([ctx.t("events.create.bad_network", network=answer[:40], networks=", ".join(mine)),
                                _question(ctx, step)]))
        data["network"] = answer.lower()
    elif answer == SKIP and step in REQUIRED:
        return Reply(lines([ctx.t("events.flow.required"), _question(ctx, step)]))
    elif answer != SKIP:
        known, _ = await _parsed(ctx, data["network"], raw)
        seen = len(known.notes)
        try:
            value = parse_value(step, answer, known)
        except FieldProblem as err:
            return Reply(lines([problem_text(ctx, err.problem), _question(ctx, step)]))
        notes = known.notes[seen:]
        # a time kept as the moment it meant now: "in 2h" or "tomorrow 19:30" must not move when read again
        raw[step] = local(value, known.tz) if isinstance(value, datetime) else answer
    answered.append(step)
    data["answered"] = answered
    following = _next(step, raw, answered)
    if following is not None:
        conversations.advance(row, following, {**data, "raw": raw}, ctx.now + TTL)
        return Reply(lines([*(problem_text(ctx, n) for n in notes), _question(ctx, following)]))
    draft, problems = build(dict(raw), Known(ctx.now, await default_timezone(ctx, data["network"]), words=words.vocabulary()))
    if problems:  # time passed while answering (a start now in the past): ask that field again
        again = (await _parsed(ctx, data["network"], raw))[1] or next((n for n in REQUIRED if n not in raw), STEPS[0])
        data["answered"] = [a for a in answered if a != again]
        conversations.advance(row, again, {**data, "raw": raw}, ctx.now + TTL)
        return Reply(lines([problems_text(ctx, problems), _question(ctx, again)]))
    event = await create_draft(ctx, draft, data["network"], data.get("origin"))
    await conversations.end(ctx.db, row)
    return await created_reply(ctx, event, notes)


async def created_reply(ctx: Context, event: Event, notes: Iterable[Problem] = ()) -> Reply:
    """The draft made, with what the form noted (a repeated hour) first."""
    text = details(ctx.t, ctx.prefix, event, await events.workshops(ctx.db, event.id), {}, {}, for_coordinator=True)
    done = ctx.t("events.create.done", slug=code(event.slug), show=code(f"{ctx.prefix}event {event.slug}"),
                 edit=code(f"{ctx.prefix}event edit {event.slug} capacity: 40"),
                 publish=code(f"{ctx.prefix}event publish {event.slug}"))
    return Reply(lines([*(problem_text(ctx, n) for n in notes), done, text]))
