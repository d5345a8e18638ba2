"""The method guide in a session's room: `!start [method]`, `!phase` (next, back), `!turn` (next)
and `!timer`. Only the facilitator moves the session; every participant may ask where it is.
Each move is recorded (storage.guide.record); a written round is opened and revealed by
written.py; the timer is a row of the schedule table, so it survives a restart."""
from __future__ import annotations

from datetime import datetime, timedelta

from api import Context, JobContext, Reply, Rest, Role, Translator, UserError, Where, command, job
from api.converters import Duration
from api.methods import Method, available, text
from api.render import Text, bold, bullets, code, lines
from commands.sessions import methods as rules
from commands.sessions.here import Here, facilitating, here, load, room_translator
from commands.sessions.written import open_round, reveal_round, round_state
from storage import guide, sessions
from storage.models import GroupSession

TIMER = "sessions.timer"
LATE = timedelta(minutes=30)  # a timer's end later than this (the bot was down) is not posted


def _timer_key(row: GroupSession, due: datetime) -> str:
    return f"session-timer:{row.id}:{due.isoformat()}"


def _minutes(delta: timedelta) -> int:
    return max(0, int((delta.total_seconds() + 59) // 60))


async def where_we_are(ctx: Context | JobContext, found: Here, t: Translator) -> Text:
    """The method, the phase (n of m) with its instruction, the round's state and the time left."""
    method, phase, row = found.method, found.phase, found.row
    if method is None:
        return t("guide.not_started", start=code(f"{ctx.prefix}start <method>"), methods=_method_keys())
    if phase is None:
        return t("guide.finished", method=text(method.name, t.language),
                 action=code(f"{ctx.prefix}action <text>"), report=code(f"{ctx.prefix}report"),
                 outcome=code(f"{ctx.prefix}outcome <text>"))
    title = t("guide.phase.title", number=row.phase + 1, count=len(method.phases),
              title=text(phase.title, t.language), method=text(method.name, t.language))
    parts: list[object] = [bold(title), text(phase.instruction, t.language)]
    if phase.written:
        parts.append(await round_state(ctx, found, t))
    elif phase.round:
        parts.append(_turn_line(ctx, found, t))
    parts.append(_time_line(ctx.now, found, t))
    return lines([p for p in parts if p])


def _turn_line(ctx: Context | JobContext, found: Here, t: Translator) -> Text:
    order = found.speakers(found.phase)
    if not order:
        return t("guide.turn.nobody")
    if found.row.turn is None:
        return t("guide.turn.first", speaker=found.name(order[0]), turn=code(f"{ctx.prefix}turn next"))
    turn = found.row.turn
    if turn >= len(order):
        return t("guide.turn.all_done", next=code(f"{ctx.prefix}phase next"))
    following = order[turn + 1] if turn + 1 < len(order) else None
    return t("guide.turn.now", speaker=found.name(order[turn]), number=turn + 1, count=len(order),
             following=found.name(following) if following else t("guide.turn.last"))


def _time_line(now: datetime, found: Here, t: Translator) -> Text | None:
    row, phase = found.row, found.phase
    if row.timer_due is not None and row.timer_due > now:
        return t("guide.time.timer", minutes=_minutes(row.timer_due - now))
    if phase is not None and phase.minutes and row.phase_started_at is not None:
        left = row.phase_started_at + timedelta(minutes=phase.minutes) - now
        if left.total_seconds() >= 0:
            return t("guide.time.left", minutes=_minutes(left), total=phase.minutes)
        return t("guide.time.over", minutes=_minutes(-left), total=phase.minutes)
    return None


def _method_keys() -> str:
    return ", ".join(available())


def _methods_list(ctx: Context, t: Translator) -> Text:
    return bullets([t("guide.method.line", short=code(key), name=text(m.name, t.language),
                      description=text(m.description, t.language), count=len(m.phases))
                    for key, m in available().items()])


def _find_method(raw: str) -> Method | None:
    wanted = raw.strip().casefold()
    for key, method in available().items():
        if wanted == key or wanted in {v.casefold() for v in method.name.values()}:
            return method
    return None


@command("start", where=Where.ROOM, help="cmd.start", role=Role.MEMBER, usage="[method] [@case-bringer]",
         local={"nl": "beginnen", "nb": "begynn"})
async def start(ctx: Context, args: Rest | None = None) -> Reply:
    found = await facilitating(ctx, "start")
    t = await room_translator(ctx, found)
    words = (args or "").split()
    bringer = next((w for w in words if w.startswith("@")), None)
    name = " ".join(w for w in words if not w.startswith("@"))
    if not name:
        return Reply(lines([ctx.t("guide.method.choose", start=code(f"{ctx.prefix}start <method>")),
                            _methods_list(ctx, ctx.t)]))
    method = _find_method(name)
    if method is None:
        raise UserError("guide.method.unknown", method=name[:40], methods=_method_keys())
    if bringer is not None:
        if bringer not in found.participants:
            raise UserError("guide.case_bringer.not_participant", user=bringer[:80])
        found.row.case_bringer = bringer
    await _reveal_if_open(ctx, found)
    row = found.row
    row.method, row.phase, row.turn, row.phase_started_at = method.key, 0, None, ctx.now
    await _stop_timer(ctx, row)
    row.updated_at = ctx.now
    await guide.record(ctx.db, row, "start", ctx.sender, ctx.now, detail=method.key)
    intro = t("guide.started", method=text(method.name, t.language), count=len(method.phases),
              description=text(method.description, t.language),
              case_bringer=found.name(row.case_bringer) if row.case_bringer else t("guide.case_bringer.none"))
    return Reply(lines([intro, await _entered(ctx, found, t)]))


async def _entered(ctx: Context, found: Here, t: Translator) -> Text:
    """A phase has just begun: open its written round (DMs) and say where we are."""
    if found.phase is not None and found.phase.written:
        await open_round(ctx, found)
    return await where_we_are(ctx, found, t)


async def _reveal_if_open(ctx: Context, found: Here) -> None:
    """Moving on closes a written round: what was sent is revealed, even if not everyone sent."""
    if found.phase is not None and found.phase.written and not await guide.revealed_since(ctx.db, found.row):
        await reveal_round(ctx, found, force=True)


@command("phase", where=Where.ROOM, help="cmd.phase", role=Role.MEMBER, local={"nl": "fase", "nb": "fase"})
async def phase(ctx: Context) -> Reply:
    found = await here(ctx, "phase")
    return Reply(await where_we_are(ctx, found, await room_translator(ctx, found)))


async def _move(ctx: Context, name: str, forward: bool) -> Reply:
    found = await facilitating(ctx, name)
    method, row = found.method, found.row
    if method is None:
        raise UserError("guide.not_started", start=code(f"{ctx.prefix}start <method>"), methods=_method_keys())
    t = await room_translator(ctx, found)
    at = rules.Progress(row.phase if row.phase is not None else len(method.phases))
    if forward:
        if at.phase >= len(method.phases):
            raise UserError("guide.phase.already_finished", back=code(f"{ctx.prefix}phase back"))
        moved = rules.next_phase(method, at)
    else:
        moved = rules.previous_phase(method, at) if at.phase < len(method.phases) \
            else rules.Progress(len(method.phases) - 1)
        if moved is None:
            raise UserError("guide.phase.first", phase=code(f"{ctx.prefix}phase"))
    await _reveal_if_open(ctx, found)
    row.phase = moved.phase if moved is not None else None
    row.turn, row.phase_started_at, row.updated_at = None, ctx.now, ctx.now
    await _stop_timer(ctx, row)
    await guide.record(ctx.db, row, "phase_next" if forward else "phase_back", ctx.sender, ctx.now)
    return Reply(await _entered(ctx, found, t))


@command("phase next", where=Where.ROOM, help="cmd.phase_next", role=Role.MEMBER,
         local={"nl": "fase volgende", "nb": "fase neste"})
async def phase_next(ctx: Context) -> Reply:
    return await _move(ctx, "phase next", True)


@command("phase back", where=Where.ROOM, help="cmd.phase_back", role=Role.MEMBER,
         local={"nl": "fase terug", "nb": "fase tilbake"})
async def phase_back(ctx: Context) -> Reply:
    return await _move(ctx, "phase back", False)


@command("turn", where=Where.ROOM, help="cmd.turn", role=Role.MEMBER, local={"nl": "beurt", "nb": "tur"})
async def turn(ctx: Context) -> Reply:
    found = await here(ctx, "turn")
    t = await room_translator(ctx, found)
    if found.phase is None or not found.phase.round or found.phase.written:
        return Reply(_no_round(ctx, found, t))
    return Reply(_turn_line(ctx, found, t))


def _no_round(ctx: Context, found: Here, t: Translator) -> Text:
    if found.phase is not None and found.phase.written:
        return t("guide.turn.written", write=code(f"{ctx.prefix}write <text>"))
    return t("guide.turn.no_round", phase=code(f"{ctx.prefix}phase"))


@command("turn next", where=Where.ROOM, help="cmd.turn_next", role=Role.MEMBER,
         local={"nl": "beurt volgende", "nb": "tur neste"})
async def turn_next(ctx: Context) -> Reply:
    found = await facilitating(ctx, "turn next")
    t = await room_translator(ctx, found)
    row = found.row
    if found.phase is None or not found.phase.round or found.phase.written:
        raise UserError("guide.turn.not_now", phase=code(f"{ctx.prefix}phase"))
    order = found.speakers(found.phase)
    given = rules.next_turn(rules.Progress(row.phase, row.turn), order)
    if given is None:
        if row.turn is None or row.turn < len(order):
            row.turn = len(order)
            await guide.record(ctx.db, row, "round_done", ctx.sender, ctx.now)
        return Reply(t("guide.turn.all_done", next=code(f"{ctx.prefix}phase next")))
    row.turn, row.updated_at = given.progress.turn, ctx.now
    await guide.record(ctx.db, row, "turn", ctx.sender, ctx.now, detail=given.speaker)
    text_ = t("guide.turn.now", speaker=found.name(given.speaker), number=given.progress.turn + 1,
              count=len(order), following=found.name(given.following) if given.following else t("guide.turn.last"))
    return Reply(text_, notice=False, mentions=(given.speaker,))  # m.text: the speaker must notice


@command("timer", where=Where.ROOM, help="cmd.timer", role=Role.MEMBER, local={"nl": "wekker", "nb": "tidtaker"})
async def timer(ctx: Context, length: Duration | None = None) -> Reply:
    found = await facilitating(ctx, "timer")
    row = found.row
    if length is None:
        if found.phase is None or not found.phase.minutes:
            raise UserError("guide.timer.how_long", example=code(f"{ctx.prefix}timer 10m"))
        length = timedelta(minutes=found.phase.minutes)
    if length > timedelta(hours=12):
        raise UserError("guide.timer.too_long", example=code(f"{ctx.prefix}timer 10m"))
    await _stop_timer(ctx, row)
    due = ctx.now + length
    row.timer_due, row.updated_at = due, ctx.now
    await ctx.schedule.at(_timer_key(row, due), TIMER, due, {"session": row.id, "due": due.isoformat(),
                                                              "minutes": _minutes(length)})
    await guide.record(ctx.db, row, "timer", ctx.sender, ctx.now, detail=due.isoformat())
    t = await room_translator(ctx, found)
    return Reply(t("guide.timer.set", minutes=_minutes(length), time=t.time(due, found.event.timezone),
                   stop=code(f"{ctx.prefix}timer stop")))


@command("timer stop", where=Where.ROOM, help="cmd.timer_stop", role=Role.MEMBER, local={"nl": "wekker stop", "nb": "tidtaker stopp"})
async def timer_stop(ctx: Context) -> Reply:
    found = await facilitating(ctx, "timer stop")
    if found.row.timer_due is None:
        return ctx.reply("guide.timer.none")
    await _stop_timer(ctx, found.row)
    await guide.record(ctx.db, found.row, "timer_stop", ctx.sender, ctx.now)
    return ctx.reply("guide.timer.stopped")


async def _stop_timer(ctx: Context, row: GroupSession) -> None:
    if row.timer_due is not None:
        await ctx.schedule.cancel(_timer_key(row, row.timer_due))
        row.timer_due = None


@job(TIMER)
async def timer_done(ctx: JobContext, payload: dict) -> None:
    """Time is up: an m.text in the session room that mentions the facilitator."""
    row = await sessions.by_id(ctx.db, int(payload["session"]))
    if row is None or row.room_id is None or row.timer_due is None or row.timer_due.isoformat() != payload["due"]:
        return  # the session is gone, or the timer was stopped or replaced
    found = await load(ctx, row)  # type: ignore[arg-type]
    late = ctx.now - row.timer_due > LATE
    row.timer_due = None
    await guide.record(ctx.db, row, "timer_missed" if late else "timer_done", None, ctx.now)
    if late:  # the bot was down long past it: "time is up" now would only confuse the group
        return
    t = await ctx.translator_for_network(found.event.network)
    who = [row.facilitator] if row.facilitator else []
    phase_title = text(found.phase.title, t.language) if found.phase else ""
    body = t("guide.timer.done", minutes=payload.get("minutes", 0), phase=phase_title,
             facilitator=found.name(row.facilitator) if row.facilitator else "")
    await ctx.chat.send(row.room_id, body, mentions=tuple(who))
