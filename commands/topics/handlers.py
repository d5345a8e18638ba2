"""Topics for the next gathering, decided by the community (seed 002): members propose and vote,
coordinators pick one into the event form or close it with a reason; when the event made from a
picked topic is published, its proposer and voters hear of it by DM."""
from __future__ import annotations

from api import Context, Reply, Rest, Role, UserError, Where, command, on_published, whole_number
from api.render import bold, code, lines
from commands.common.places import require_private
from commands.topics import rules
from storage import members, networks, polls, topics
from storage.models import Topic

EVENT_FORM = "events.create"  # the events feature's step-by-step form (started through ctx.begin)
ORIGIN = "topic:"


@command("topic propose", help="cmd.topic_propose", role=Role.MEMBER, usage="<text...>",
         local={"nl": "onderwerp voorstellen", "nb": "foreslå tema"})
async def topic_propose(ctx: Context, text: Rest) -> Reply:
    network = await _network(ctx)
    problem = rules.proposal_problem(text)
    if problem:
        raise UserError(problem, most=rules.MAX_TEXT)
    topic = await topics.propose(ctx.db, network, ctx.sender, " ".join(text.split()), ctx.now)
    return ctx.reply("topics.propose.done", number=topic.id, vote=code(f"{ctx.prefix}topic vote {topic.id}"),
                     topics=code(f"{ctx.prefix}topics"))


@command("topics", help="cmd.topics", role=Role.MEMBER, usage="[network]", aliases=("topic", "onderwerp", "tema"),
         local={"nl": "onderwerpen", "nb": "temaer"})
async def topic_list(ctx: Context, network: str | None = None) -> Reply:
    net = await _network(ctx, network)
    rows = await topics.listing(ctx.db, net)
    if not rows:
        return ctx.reply("topics.list.none", propose=code(f"{ctx.prefix}topic propose <text>"))
    mine = {t.id for t, _n in rows if ctx.sender in await topics.voters(ctx.db, t.id)}
    limit = (await polls.settings(ctx.db, net)).topic_votes
    items = [ctx.t("topics.list.line_mine" if t.id in mine else "topics.list.line", number=t.id, text=t.text,
                   count=n) for t, n in rows]
    return Reply(lines([bold(ctx.t("topics.list.title")), lines(items),
                        ctx.t("topics.list.hint", vote=code(f"{ctx.prefix}topic vote <n>"),
                              used=len(mine), count=limit)]))


@command("topic vote", help="cmd.topic_vote", role=Role.MEMBER, usage="<topic>",
         local={"nl": "onderwerp stemmen", "nb": "stem tema"})
async def topic_vote(ctx: Context, number: str) -> Reply:
    topic = await _open_topic(ctx, number)
    await members.membership(ctx.db, topic.network, ctx.sender, lock=True)  # one vote at a time per member
    limit = (await polls.settings(ctx.db, topic.network)).topic_votes
    if ctx.sender in await topics.voters(ctx.db, topic.id):
        return ctx.reply("topics.vote.already", number=topic.id)
    if not rules.may_vote(await topics.open_votes(ctx.db, topic.network, ctx.sender), limit):
        raise UserError("topics.vote.limit", count=limit, unvote=code(f"{ctx.prefix}topic unvote <n>"),
                        topics=code(f"{ctx.prefix}topics"))
    await topics.vote(ctx.db, topic.id, ctx.sender, ctx.now)
    return ctx.reply("topics.vote.done", number=topic.id, count=await topics.vote_count(ctx.db, topic.id))


@command("topic unvote", help="cmd.topic_unvote", role=Role.MEMBER, usage="<topic>",
         local={"nl": "onderwerp stem intrekken", "nb": "trekk stemme tema"})
async def topic_unvote(ctx: Context, number: str) -> Reply:
    topic = await _open_topic(ctx, number)
    if not await topics.unvote(ctx.db, topic.id, ctx.sender):
        return ctx.reply("topics.unvote.none", number=topic.id)
    return ctx.reply("topics.unvote.done", number=topic.id)


@command("topic withdraw", help="cmd.topic_withdraw", role=Role.MEMBER, usage="<topic>",
         local={"nl": "onderwerp intrekken", "nb": "trekk tilbake tema"})
async def topic_withdraw(ctx: Context, number: str) -> Reply:
    topic = await _open_topic(ctx, number)
    if topic.proposer != ctx.sender:
        raise UserError("topics.withdraw.not_yours", number=topic.id)
    topics.end(topic, "withdrawn", ctx.now)
    return ctx.reply("topics.withdraw.done", number=topic.id)


@command("topic close", help="cmd.topic_close", role=Role.COORDINATOR, usage="<topic> <reason...>",
         local={"nl": "onderwerp sluiten", "nb": "lukk tema"})
async def topic_close(ctx: Context, number: str, reason: Rest) -> Reply:
    topic = await _open_topic(ctx, number, coordinator=True)
    topics.end(topic, "closed", ctx.now, " ".join(reason.split())[:500])
    if topic.proposer and topic.proposer != ctx.sender:
        await ctx.tell(topic.proposer, "topics.close.told", about_network=topic.network, number=topic.id,
                       text=topic.text, reason=topic.reason)
    return ctx.reply("topics.close.done", number=topic.id)


@command("topic pick", help="cmd.topic_pick", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<topic>",
         local={"nl": "onderwerp kiezen", "nb": "velg tema"})
async def topic_pick(ctx: Context, number: str) -> Reply:
    """The event form, step by step, with the topic as its title; the topic waits for that event."""
    topic = await _open_topic(ctx, number, coordinator=True, again=True)
    await require_private(ctx, "topic pick", topic.network)
    topics.end(topic, "picked", ctx.now)
    return await ctx.begin(EVENT_FORM, {"network": topic.network, "title": topic.text,
                                        "origin": f"{ORIGIN}{topic.id}"})


@on_published
async def tell_on_publish(ctx, event) -> None:  # noqa: ANN001
    """The event made from a picked topic is published: its proposer and voters hear of it."""
    origin = getattr(event, "origin", None) or ""
    topic_id = whole_number(origin[len(ORIGIN):]) if origin.startswith(ORIGIN) else None
    topic = await topics.get(ctx.db, topic_id) if topic_id is not None else None
    if topic is None or topic.event_slug is not None:
        return
    topic.event_slug = event.slug
    people = dict.fromkeys([p for p in [topic.proposer, *await topics.voters(ctx.db, topic.id)] if p])
    for person in people:
        if await _active(ctx, topic.network, person):
            await ctx.tell(person, "topics.published.told", about_network=topic.network, text=topic.text,
                           title=event.title, register=code(f"{ctx.prefix}register {event.slug}"),
                           show=code(f"{ctx.prefix}event {event.slug}"))


async def _active(ctx, network: str, user_id: str) -> bool:  # noqa: ANN001
    row = await members.membership(ctx.db, network, user_id)
    return row is not None and row.state == "active"


async def _open_topic(ctx: Context, number: str, *, coordinator: bool = False, again: bool = False) -> Topic:
    """The topic, open; with `again`, also one picked whose event was never made (the form was left)."""
    topic_id = whole_number(number.lstrip("#"))
    topic = await topics.get(ctx.db, topic_id) if topic_id is not None else None
    role = ctx.roles.get(topic.network, Role.ANYONE) if topic else Role.ANYONE
    if topic is None or role < Role.MEMBER:
        raise UserError("topics.not_found", number=number[:20], topics=code(f"{ctx.prefix}topics"))
    if coordinator and role < Role.COORDINATOR:
        raise UserError("topics.coordinators_only", number=topic.id)
    if topic.state != "open" and not (again and topic.state == "picked" and topic.event_slug is None):
        raise UserError(f"topics.state.{topic.state}", number=topic.id)
    return topic


async def _network(ctx: Context, given: str | None = None) -> str:
    """The network named, else the room's, else the member's only one."""
    mine = sorted(n for n, r in ctx.roles.items() if r >= Role.MEMBER)
    if given:
        if given.lower() not in mine:
            raise UserError("topics.which_network", networks=", ".join(mine))
        return given.lower()
    where = await networks.network_of_room(ctx.db, ctx.room_id)
    if where is not None and where[0] in mine:
        return where[0]
    if len(mine) == 1:
        return mine[0]
    raise UserError("topics.which_network", networks=", ".join(mine))
