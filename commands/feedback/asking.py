"""Answering a feedback form in the DM, one question at a time: `!feedback <event>` starts or
resumes, each plain message answers the question shown (`-` skips, `<` goes back), `!stop`
pauses (the progress row stays), the last answer stores the form. For an anonymous form every
step is untraceable (the dispatcher keeps neither room nor exact time of the message), replies
keep no content once sent, and the stored answer names nobody."""
from __future__ import annotations

from datetime import datetime, timedelta

from api import Context, Reply, UserError, flow
from api.feedback_forms import SETTINGS, Form, Question, form as form_of
from api.render import Text, bold, code, lines, pill
from commands.feedback import rules
from storage import conversations, feedback, registrations as regs, sessions
from storage.models import Event, GroupSession

FLOW = "feedback.answer"
TTL = timedelta(days=1)  # the conversation; the progress itself stays until the deadline


def deadline_of(event: Event) -> datetime:
    return rules.deadline(event.ends_at, event.feedback_deadline, SETTINGS.deadline_days)


async def check_open(ctx: Context, event: Event) -> None:
    """Feedback is taken between the event's end and its deadline."""
    if ctx.now < event.ends_at:
        raise UserError("feedback.not_yet", title=event.title, when=lambda t: t.datetime(event.ends_at, event.timezone))
    deadline = deadline_of(event)
    if ctx.now > deadline:
        raise UserError("feedback.closed", title=event.title, when=lambda t: t.datetime(deadline, event.timezone))


async def begin(ctx: Context, event: Event, group: GroupSession | None, what: str) -> Reply:
    """Start or resume the form for the person (group None) or for their group."""
    if not ctx.is_dm:
        raise UserError("feedback.dm_only", command=code(f"{ctx.prefix}feedback {what}"))
    form = form_of(event.feedback_form)
    session_id = group.id if group else feedback.PERSON
    if group is None and not any(r.state == regs.CONFIRMED for r in await regs.of_user_in_event(ctx.db, event.id, ctx.sender)):
        raise UserError("feedback.not_participant", title=event.title)
    await check_open(ctx, event)
    if await feedback.has_responded(ctx.db, event.id, ctx.sender, session_id):
        raise UserError("feedback.already_group" if group else "feedback.already", title=event.title)
    ctx.untraceable = form.anonymous
    row = await feedback.start(ctx.db, event.id, ctx.sender, session_id)
    await conversations.start(ctx.db, ctx.sender, ctx.room_id, FLOW, "q", {"event": event.id, "group": session_id},
                              ctx.now + TTL)
    key = "feedback.resume" if row.step or row.answers else ("feedback.intro_group" if group else "feedback.intro")
    intro = ctx.t(key, title=event.title, form=form.name_in(ctx.t.language), count=len(form.questions),
                  stop=code(f"{ctx.prefix}stop"), again=code(f"{ctx.prefix}feedback {what}"),
                  deadline=lambda t: t.datetime(deadline_of(event), event.timezone))
    parts = [intro]
    if form.anonymous:
        parts.append(ctx.t("feedback.anonymous_note"))
    parts.append(question_text(ctx, form, row.step, row.answers))
    return Reply(lines(parts), private=form.anonymous)


def question_text(ctx: Context, form: Form, step: int, answers: dict) -> Text:
    q = form.questions[step]
    head = bold(ctx.t("feedback.question", number=step + 1, count=len(form.questions)))
    parts: list[object] = [head + " " + q.text_in(ctx.t.language)]
    if q.kind == "choice":
        parts += [f"{n}. {o}" for n, o in enumerate(q.options_in(ctx.t.language), start=1)]
    if not form.anonymous and q.key in answers:  # an anonymous form never echoes what was answered
        parts.append(ctx.t("feedback.current", value=shown(ctx, q, answers[q.key])))
    parts.append(ctx.t("feedback.hint_" + q.kind, stop=code(f"{ctx.prefix}stop")))
    return lines(parts)


def shown(ctx: Context, q: Question, value: object) -> str:
    if q.kind == "choice" and isinstance(value, int) and 1 <= value <= len(q.options):
        return q.options_in(ctx.t.language)[value - 1]
    return str(value)[:200]


@flow(FLOW)
async def answer_step(ctx: Context, text: str) -> Reply | None:
    conv = await conversations.get(ctx.db, ctx.sender, ctx.room_id, FLOW, ctx.now)
    if conv is None:
        return None
    event = await ctx.db.get(Event, int(conv.data["event"]))
    session_id = int(conv.data.get("group") or 0)
    row = await feedback.progress(ctx.db, event.id, ctx.sender, session_id) if event else None
    if event is None or row is None:
        await conversations.end(ctx.db, conv)
        return None
    form = form_of(event.feedback_form)
    ctx.untraceable = form.anonymous
    if ctx.now > deadline_of(event):
        await conversations.end(ctx.db, conv)
        return Reply(ctx.t("feedback.closed", title=event.title,
                           when=lambda t: t.datetime(deadline_of(event), event.timezone)), private=form.anonymous)
    step = rules.take(form, row.step, row.answers, text)
    if step.problem is not None:
        key, values = step.problem
        return Reply(lines([ctx.t(key, **values), question_text(ctx, form, step.step, step.answers)]),
                     private=form.anonymous)
    if not step.done(form):
        feedback.advance(row, step.step, step.answers)
        conversations.advance(conv, "q", conv.data, ctx.now + TTL)
        return Reply(question_text(ctx, form, step.step, step.answers), private=form.anonymous)
    feedback.advance(row, step.step, step.answers)
    await feedback.store(ctx.db, row, form=form.key, anonymous=form.anonymous, now=ctx.now)
    await conversations.end(ctx.db, conv)
    if session_id:
        await tell_group(ctx, event, session_id)
    key = "feedback.thanks_anonymous" if form.anonymous else "feedback.thanks"
    return Reply(ctx.t(key, title=event.title, mydata=code(f"{ctx.prefix}mydata")), private=form.anonymous)


async def tell_group(ctx: Context, event: Event, session_id: int) -> None:
    """The group hears that its feedback was sent and by whom: in its room, else each by DM."""
    group = await ctx.db.get(GroupSession, session_id)
    if group is None:
        return
    if group.room_id:
        t = await ctx.translator_for_network(event.network)
        await ctx.chat.send(group.room_id, t("feedback.group_sent", by=pill(ctx.sender), title=event.title,
                                             number=group.number), mentions=(ctx.sender,))
        return
    for member in (await sessions.members(ctx.db, [group.id]))[group.id]:
        if member.user_id != ctx.sender:
            await ctx.tell(member.user_id, "feedback.group_sent", about_network=event.network, by=pill(ctx.sender),
                           title=event.title, number=group.number)
