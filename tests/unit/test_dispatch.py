"""A command end to end through the real Dispatcher and a real database: exactly one reply in
the outbox, exactly once, only fresh commands, role-aware help, polite errors, rollback."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api import Context, Reply, Role, UserError, Where, command

from api.decorators import COMMAND_ATTR
from api.render import as_text
from bot.router import Registry
from storage import direct_rooms, members, processed
from storage.database import Database
from storage.models import Member, ProcessedEvent, ScheduledAction
from tests.unit.helpers import BOT, ROOM, T0, FakeClock, FakeRuntime, message, only_reply, open_dm, outbox_rows, set_role

pytestmark = pytest.mark.both_databases  # the rollback of a failing handler, on both
ALICE, BOB = "@alice:example.org", "@bob:example.org"
DM = "!alice-dm:example.org"


@command("boom", help="cmd.ping", role=Role.ANYONE)
async def boom(ctx: Context) -> Reply:
    raise RuntimeError("a bug in a handler")


@command("echo", help="cmd.ping", role=Role.ANYONE)
async def echo(ctx: Context) -> Reply:
    return Reply(as_text("still here"))


@command("mutate", help="cmd.ping", role=Role.ANYONE)
async def mutate(ctx: Context, how: str) -> Reply:
    """Changes the database, sends elsewhere and schedules, then fails as told."""
    await members.get_or_create(ctx.db, "@written-by-handler:example.org", ctx.now)
    await ctx.chat.send("!elsewhere:example.org", as_text("should never be sent"))
    await ctx.schedule.at("mutate-later", "nothing", ctx.now + timedelta(hours=1), {})
    if how == "usererror":
        raise UserError("error.missing", name="thing")
    if how == "crash":
        raise RuntimeError("boom after writing")
    return Reply(as_text("kept"))


@command("secret", help="cmd.ping", role=Role.ANYONE, where=Where.DM)
async def secret(ctx: Context) -> Reply:
    return Reply(as_text("only in private"))


@command("vanish", help="cmd.ping", role=Role.ANYONE)
async def vanish(ctx: Context, how: str) -> Reply:
    """Untraceable (as an anonymous vote is), then fails as told."""
    ctx.untraceable = True
    if how == "usererror":
        raise UserError("error.missing", name="thing")
    raise RuntimeError("boom")


@command("undm", help="cmd.ping", role=Role.ANYONE)
async def undm(ctx: Context) -> Reply:
    """Forgets this room as the sender's DM (as !case does in an unencrypted DM)."""
    await direct_rooms.forget(ctx.db, ctx.room_id)
    return Reply(as_text("forgotten"))


def custom_registry() -> Registry:
    return Registry([getattr(f, COMMAND_ATTR) for f in (boom, echo, mutate, secret, vanish, undm)])


async def count(db: Database, model) -> int:  # noqa: ANN001
    async with db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def is_processed(db: Database, event_id: str) -> bool:
    async with db.transaction() as session:
        return await processed.is_processed(session, event_id)


# -- one command, one reply ---------------------------------------------------------------------

async def test_a_command_gets_one_notice_with_plain_and_escaped_html(db: Database, make_dispatcher) -> None:
    await set_role(db, ALICE, "member")
    msg = message("!help <script>alert(1)</script> & co", sender=ALICE)
    assert await make_dispatcher().handle(msg) == "ok"
    rows = await outbox_rows(db)
    assert len(rows) == 1 and rows[0].room_id == ROOM and rows[0].kind == "message"
    content = rows[0].payload["content"]
    assert content["msgtype"] == "m.notice"
    assert "<script>alert(1)</script> & co" in content["body"]
    assert content["format"] == "org.matrix.custom.html"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in content["formatted_body"]
    assert "<script>" not in content["formatted_body"]


async def test_ping_answers_with_the_round_trip(db: Database, make_dispatcher, clock: FakeClock) -> None:
    assert await make_dispatcher().handle(message("!ping", at=clock.now - timedelta(milliseconds=250))) == "ok"
    assert (await only_reply(db))["body"] == "Pong! Your message took 250 ms to reach me."


async def test_a_mention_by_display_name_works_like_the_prefix(db: Database, make_dispatcher) -> None:
    assert await make_dispatcher().handle(message("Kring Bot: ping")) == "ok"
    assert (await only_reply(db))["body"].startswith("Pong!")


async def test_ordinary_talk_and_the_bots_own_messages_are_ignored(db: Database, make_dispatcher) -> None:
    dispatcher = make_dispatcher()
    assert await dispatcher.handle(message("good morning all")) == "ignored"
    assert await dispatcher.handle(message("!ping", sender=BOT)) == "ignored"
    assert await outbox_rows(db) == []


# -- exactly once, only fresh -------------------------------------------------------------------

async def test_the_same_event_twice_is_answered_once(db: Database, make_dispatcher) -> None:
    dispatcher = make_dispatcher()
    msg = message("!ping")
    assert await dispatcher.handle(msg) == "ok"
    assert await dispatcher.handle(msg) == "duplicate"
    assert len(await outbox_rows(db)) == 1


async def test_the_same_event_concurrently_is_answered_once(db: Database, make_dispatcher) -> None:
    dispatcher = make_dispatcher()
    msg = message("!ping")
    outcomes = await asyncio.gather(*(dispatcher.handle(msg) for _ in range(5)))
    assert sorted(outcomes) == ["duplicate"] * 4 + ["ok"]
    assert len(await outbox_rows(db)) == 1


async def test_a_command_older_than_max_age_is_not_run(db: Database, make_dispatcher, clock: FakeClock) -> None:
    dispatcher = make_dispatcher(max_age=timedelta(minutes=10))
    stale = message("!ping", at=clock.now - timedelta(minutes=10, seconds=1))
    fresh = message("!ping", at=clock.now - timedelta(minutes=9))
    assert await dispatcher.handle(stale) == "too-old"
    assert await outbox_rows(db) == [] and not await is_processed(db, stale.event_id)
    assert await dispatcher.handle(fresh) == "ok"


async def test_a_command_from_before_the_first_sync_is_not_run(db: Database, make_dispatcher,
                                                             clock: FakeClock) -> None:
    dispatcher = make_dispatcher()
    dispatcher.not_before = clock.now - timedelta(seconds=30)
    assert await dispatcher.handle(message("!ping", at=clock.now - timedelta(seconds=31))) == "too-old"
    assert await outbox_rows(db) == []
    assert await dispatcher.handle(message("!ping", at=clock.now - timedelta(seconds=29))) == "ok"


# -- who sees and may do what -------------------------------------------------------------------

async def test_a_member_sees_member_commands_but_not_coordinator_ones(db: Database, make_dispatcher) -> None:
    await set_role(db, ALICE, "member")
    assert await make_dispatcher().handle(message("!help", sender=ALICE)) == "ok"
    body = (await only_reply(db))["body"]
    assert "!ping" in body and "!help" in body
    assert "!status" not in body


async def test_a_coordinator_sees_and_runs_status(db: Database, make_dispatcher, runtime: FakeRuntime) -> None:
    await set_role(db, ALICE, "coordinator")
    dispatcher = make_dispatcher()
    assert await dispatcher.handle(message("!help", sender=ALICE)) == "ok"
    assert "!status" in (await only_reply(db))["body"]
    # the runtime's facts as they are when things are wrong (the real runtime's answer, from a real
    # homeserver, is checked in tests/integration/test_foundation.py)
    runtime.homeserver, runtime.cross_signed = False, False
    assert await dispatcher.handle(message("!status", sender=ALICE)) == "ok"
    body = (await outbox_rows(db))[-1].payload["content"]["body"]
    assert body.startswith("Kring 9.9.9-test, up 2h 5m 0s.")
    assert "Homeserver: NOT reachable. Messages waiting to be sent: 1." in body, "the !help reply is queued"
    assert "Device TESTDEVICE: NOT cross-signed" in body


async def test_status_is_refused_to_a_member_without_running_it(db: Database, make_dispatcher,
                                                               runtime: FakeRuntime) -> None:
    await set_role(db, ALICE, "member")
    assert await make_dispatcher().handle(message("!status", sender=ALICE)) == "user-error"
    body = (await only_reply(db))["body"]
    assert body.startswith("Only a coordinator may use status.")
    assert "Usage" not in body
    assert runtime.health_calls == []


async def test_an_unknown_command_gets_a_suggestion(db: Database, make_dispatcher) -> None:
    assert await make_dispatcher().handle(message("!pnig")) == "unknown"
    body = (await only_reply(db))["body"]
    assert body.startswith('I don\'t know the command "pnig". Did you mean ') and "!ping" in body


async def test_suggestions_never_name_commands_the_caller_may_not_use(db: Database, make_dispatcher) -> None:
    await set_role(db, ALICE, "member")
    await set_role(db, BOB, "coordinator")
    dispatcher = make_dispatcher()
    await dispatcher.handle(message("!statsu", sender=ALICE))
    await dispatcher.handle(message("!statsu", sender=BOB))
    alice, bob = [r.payload["content"]["body"] for r in await outbox_rows(db)]
    assert "!status" not in alice and "statsu" in alice
    assert "Did you mean" in bob and "!status" in bob


async def test_a_dm_only_command_runs_in_the_dm_and_is_refused_in_a_room(db: Database, make_dispatcher) -> None:
    await open_dm(db, DM, ALICE)
    dispatcher = make_dispatcher(custom_registry())
    assert await dispatcher.handle(message("!secret", sender=ALICE, room_id=ROOM)) == "user-error"
    assert await dispatcher.handle(message("!secret", sender=BOB, room_id=DM)) == "user-error"
    assert await dispatcher.handle(message("!secret", sender=ALICE, room_id=DM)) == "ok"
    # a command that forgets the DM (as !case does in an unencrypted one): no DM for the next command
    assert await dispatcher.handle(message("!undm", sender=ALICE, room_id=DM)) == "ok"
    assert await dispatcher.handle(message("!secret", sender=ALICE, room_id=DM)) == "user-error"
    bodies = [r.payload["content"]["body"] for r in await outbox_rows(db)]
    assert bodies[0] == bodies[1] == bodies[4] == "Please use secret in a direct message with me, not in a shared room."
    assert bodies[2] == "only in private"


async def test_a_usage_mistake_gets_the_usage_line(db: Database, make_dispatcher) -> None:
    assert await make_dispatcher(custom_registry()).handle(message("!mutate")) == "user-error"
    content = await only_reply(db)
    assert content["body"] == "Something is missing: how.\nUsage: !mutate <how>"
    assert content["formatted_body"].endswith("Usage: <code>!mutate &lt;how&gt;</code>")


# -- failures -----------------------------------------------------------------------------------

async def test_a_crashing_handler_gets_a_reference_and_the_bot_goes_on(
        db: Database, make_dispatcher, caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = make_dispatcher(custom_registry())
    crash = message("!boom")
    with caplog.at_level(logging.ERROR, logger="kring.dispatch"):
        assert await dispatcher.handle(crash) == "crash"
    body = (await only_reply(db))["body"]
    ref = re.fullmatch(r"Something went wrong on my side \(ref ([0-9a-f]{6})\)\..*", body, re.S).group(1)
    logged = [r for r in caplog.records if getattr(r, "ref", None) == ref]
    assert logged and logged[0].exc_info[0] is RuntimeError
    assert await dispatcher.handle(crash) == "duplicate"
    assert await dispatcher.handle(message("!echo")) == "ok"
    assert (await outbox_rows(db))[-1].payload["content"]["body"] == "still here"


@pytest.mark.parametrize(("how", "outcome", "starts"), [
    ("usererror", "user-error", "Something is missing: thing."),
    ("crash", "crash", "Something went wrong on my side"),
])
async def test_a_failing_handler_changes_nothing_but_is_recorded_and_answered(
        db: Database, make_dispatcher, how: str, outcome: str, starts: str) -> None:
    msg = message(f"!mutate {how}")
    dispatcher = make_dispatcher(custom_registry())
    handed: list = []
    dispatcher.on_commit = lambda changed, items: handed.append((changed, list(items)))
    assert await dispatcher.handle(msg) == outcome
    assert (await only_reply(db))["body"].startswith(starts)
    # the sender is handed the error reply only: never the rolled-back message to elsewhere
    [(schedule_changed, items)] = handed
    assert [i.room_id for i in items] == [ROOM] and not schedule_changed
    assert items[0].payload["content"]["body"].startswith(starts)
    assert await count(db, Member) == 0
    assert await count(db, ScheduledAction) == 0
    assert await is_processed(db, msg.event_id)


async def test_an_untraceable_command_keeps_no_room_in_its_record_when_it_fails_politely(
        db: Database, make_dispatcher) -> None:
    """A mistake in an anonymous vote is answered, and the record that it ran keeps neither the
    DM nor the moment; a crash keeps them (someone has to find what went wrong)."""
    dispatcher = make_dispatcher(custom_registry())
    polite, crash = message("!vanish usererror", room_id=DM), message("!vanish crash", room_id=DM)
    assert await dispatcher.handle(polite) == "user-error"
    assert await dispatcher.handle(crash) == "crash"
    assert len(await outbox_rows(db)) == 2
    async with db.read() as session:
        records = {r.event_id: r for r in (await session.execute(select(ProcessedEvent))).scalars()}
    assert records[polite.event_id].room_id == "" and records[crash.event_id].room_id == DM
    assert await dispatcher.handle(polite) == "duplicate"


async def test_a_succeeding_handler_keeps_its_changes(db: Database, make_dispatcher) -> None:
    assert await make_dispatcher(custom_registry()).handle(message("!mutate fine")) == "ok"
    assert await count(db, Member) == 1 and await count(db, ScheduledAction) == 1
    assert sorted(r.room_id for r in await outbox_rows(db)) == ["!elsewhere:example.org", ROOM]


async def test_commands_are_logged_without_their_text(db: Database, make_dispatcher,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Checked on Kring's own loggers; bot.logs keeps library debug output (SQL) quiet."""
    with caplog.at_level(logging.DEBUG):
        await make_dispatcher().handle(message("!help my-private-words", event_id="$logged"))
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("kring", "bot", "commands", "storage")]
    assert any(getattr(r, "event_id", None) == "$logged" for r in ours)
    assert not [r for r in ours if "my-private-words" in str(vars(r))]


# -- where the reply goes -----------------------------------------------------------------------

async def test_in_a_group_room_the_reply_refers_to_the_command(db: Database, make_dispatcher) -> None:
    msg = message("!ping")
    await make_dispatcher().handle(msg)
    assert (await only_reply(db))["m.relates_to"] == {"m.in_reply_to": {"event_id": msg.event_id}}


async def test_in_a_thread_the_reply_stays_in_the_thread(db: Database, make_dispatcher) -> None:
    msg = message("!ping", thread_root="$root")
    await make_dispatcher().handle(msg)
    assert (await only_reply(db))["m.relates_to"] == {
        "rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
        "m.in_reply_to": {"event_id": msg.event_id}}


async def test_in_a_dm_the_reply_is_plain(db: Database, make_dispatcher) -> None:
    await open_dm(db, DM, ALICE)
    await make_dispatcher().handle(message("!ping", sender=ALICE, room_id=DM))
    content = await only_reply(db)
    assert "m.relates_to" not in content and content["msgtype"] == "m.notice"
