"""Reminders and announcements on a real Synapse, with time moved on rather than waited for (the
bot's clock put ahead; a stopped bot's due times put in the past): an event reminder arrives by DM
as m.text mentioning the member; editing the start moves it and cancelling the event removes it; a
bot killed with kill -9 across an announcement's due time sends it once after restart, and one
older than the catch-up window is reported in the coordinators' room, not sent."""
from __future__ import annotations

import asyncio
import signal
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from storage import networks
from tests.integration.conftest import PASSWORD
from tests.integration.members import NioMember, Seen
from tests.integration.test_crash import start_bot

AMS = ZoneInfo("Europe/Amsterdam")
NET = {"id": "north", "name": "North Network", "timezone": "Europe/Amsterdam"}


async def _round_trip(member: NioMember, bot: str, room: str) -> None:
    """A !ping answered: everything the bot queued for this room before it has arrived (the outbox
    sends each room's messages in order)."""
    sent = await member.send(room, "!ping")
    await member.reply_to(bot, room, sent, timeout=60)


def _form(title: str, starts: datetime) -> str:
    local = starts.astimezone(AMS)
    return (f"!event create\ntitle: {title}\npurpose: Work through members' cases with the LON-VP method.\n"
            f"starts: {local:%Y-%m-%d %H:%M}\nends: {(local + timedelta(hours=2)):%Y-%m-%d %H:%M}\n"
            f"place: Town hall, Leuven\ncapacity: 5\nreminders: 3m")


async def _ask(member: NioMember, bot: str, room: str, text: str, expect: str, timeout: float = 60) -> Seen:
    """Send `text` and wait for the bot's answer holding `expect` (only messages after it count)."""
    member.seen = [s for s in member.seen if s.room_id != room]
    await member.send(room, text)
    return await member.message(bot, expect, room, timeout=timeout)


async def _published(carol: NioMember, bot: str, control: str, title: str, starts: datetime) -> str:
    created = await _ask(carol, bot, control, _form(title, starts), "Created draft")
    slug = created.content["body"].split("Created draft ", 1)[1].split(".", 1)[0]
    await _ask(carol, bot, control, f"!event publish {slug}", "!confirm")
    await _ask(carol, bot, control, "!confirm", f"Published {title}")
    return slug


async def test_an_event_reminder_arrives_by_dm_moves_with_the_start_and_goes_with_the_event(make_bot, make_member):
    carol = await make_member()
    ahead = timedelta(0)  # the bot's clock runs this far ahead of the wall clock

    def clock() -> datetime:
        return datetime.now(timezone.utc) + ahead

    bot = await make_bot(start=False, networks=[{**NET, "coordinators": [carol.user_id]}], matrix={"encryption": False},
                         clock=clock)
    await bot.start()
    async with bot.kring.db.transaction() as session:
        control = (await networks.rooms(session, "north"))["control"]
    await carol.wait_joined(control, carol.user_id)
    alice = await make_member()
    await bot.grant(alice.user_id, "member", "north")
    dm = await alice.dm(bot.user_id, encrypted=False)
    await alice.send(dm, "!accept-rules")
    await alice.message(bot.user_id, "Thank you for accepting the house rules", dm, timeout=60)

    # three events at the same start, a few minutes ahead, each reminding 3 minutes before it
    now = datetime.now(timezone.utc)
    starts = now.replace(second=0, microsecond=0) + timedelta(minutes=6)
    kept = await _published(carol, bot.user_id, control, "Kept day", starts)
    moved = await _published(carol, bot.user_id, control, "Moved day", starts)
    cancelled = await _published(carol, bot.user_id, control, "Cancelled day", starts)
    for slug in (kept, moved, cancelled):
        await alice.send(dm, f"!register {slug}")
        await alice.message(bot.user_id, "You are registered for", dm, timeout=60)
        alice.seen = [s for s in alice.seen if "You are registered for" not in s.content.get("body", "")]
    later = (starts + timedelta(days=1)).astimezone(AMS)
    await _ask(carol, bot.user_id, control, f"!event edit {moved} starts: {later:%Y-%m-%d %H:%M}\nends: "
                                            f"{(later + timedelta(hours=2)):%Y-%m-%d %H:%M}", "!confirm")
    await _ask(carol, bot.user_id, control, "!confirm", moved)
    await _ask(carol, bot.user_id, control, f"!event cancel {cancelled}", "!confirm")
    await _ask(carol, bot.user_id, control, "!confirm", "Cancelled day")

    # the bot's clock moves on to 3 minutes before the start: the reminders of that moment fall due
    ahead = starts - timedelta(minutes=3) - datetime.now(timezone.utc)
    assert ahead > timedelta(0), "the set-up took longer than the reminder's lead"
    bot.kring.schedule.wake()
    reminder = await alice.message(bot.user_id, "Reminder: Kept day", dm, timeout=60)
    assert reminder.content["msgtype"] == "m.text"
    assert reminder.content["m.mentions"] == {"user_ids": [alice.user_id]}
    assert "Town hall, Leuven" in reminder.content["body"] and "in 3 minutes" in reminder.content["body"]
    await _round_trip(alice, bot.user_id, dm)
    assert alice.count(bot.user_id, "Reminder: Moved day", dm) == 0, "the moved event reminds at its new time"
    assert alice.count(bot.user_id, "Reminder: Cancelled day", dm) == 0, "a cancelled event reminds nobody"
    assert alice.count(bot.user_id, "Reminder: Kept day", dm) == 1
    async with bot.kring.db.transaction() as session:
        from storage import schedule
        rows = await schedule.by_prefix(session, "remind:")
        pending = [r for r in rows.values() if r.done_at is None]
        assert [r.payload["title"] for r in pending] == ["Moved day"]
        assert pending[0].due_at == starts + timedelta(days=1) - timedelta(minutes=3)


async def _set_due(db: Path, dues: list[datetime]) -> None:
    """The pending announcements, oldest first, get these due times (the bot is not running)."""
    from sqlalchemy import select

    from storage.database import Database
    from storage.models import ScheduledAction

    database = Database(f"sqlite+aiosqlite:///{db}")
    async with database.transaction() as session:
        rows = (await session.execute(select(ScheduledAction).where(ScheduledAction.kind == "announce.send",
                                                                    ScheduledAction.done_at.is_(None))
                                      .order_by(ScheduledAction.id))).scalars().all()
        assert len(rows) == len(dues)
        for row, due in zip(rows, dues):
            row.due_at = due
    await database.close()


def _rooms(db) -> dict[str, str]:  # noqa: ANN001
    """The bot's record of its network rooms (none while its database is still being made)."""
    try:
        with sqlite3.connect(db) as conn:
            return dict(conn.execute("SELECT kind, room_id FROM network_rooms WHERE network = 'north'").fetchall())
    except sqlite3.OperationalError:
        return {}


async def test_kill_9_across_due_times_sends_once_and_reports_what_is_too_old(synapse, make_member, tmp_path):
    carol = await make_member()
    bot_user = await synapse.register_user("schedbot", PASSWORD)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "matrix": {"homeserver": synapse.url, "user_id": bot_user, "store_path": str(tmp_path / "store"),
                   "key_passphrase": "sched-passphrase", "encryption": False},
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"},
        "bot": {"schedule_catch_up_hours": 1 / 60},  # a minute
        "networks": [{**NET, "coordinators": [carol.user_id]}],
    }))
    log = tmp_path / "bot.log"
    proc = await start_bot(config, log)
    try:
        while "control" not in (rooms := _rooms(tmp_path / "kring.db")) or "announcements" not in rooms:
            await asyncio.sleep(0.5)  # polling the bot's own record of its rooms (created at start)
        control, news = rooms["control"], rooms["announcements"]
        await carol.wait_joined(control, carol.user_id, timeout=60)
        await carol.wait_joined(news, carol.user_id, timeout=60)
        await _ask(carol, bot_user, control, "!announce in 1m Too late for this one.", "!confirm")
        await _ask(carol, bot_user, control, "!confirm", "is scheduled for")
        await _ask(carol, bot_user, control, "!announce in 2m Coffee is on us.", "one post in the announcements room")
        await _ask(carol, bot_user, control, "!confirm", "is scheduled for")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # Time passes while the bot is down: the first fell due 10 minutes ago (outside the one-minute
        # catch-up window), the second 10 seconds ago (inside it). Written as the clock would have
        # made them, instead of waiting minutes of wall time.
        now = datetime.now(timezone.utc)
        await _set_due(tmp_path / "kring.db", [now - timedelta(minutes=10), now - timedelta(seconds=10)])
        proc = await start_bot(config, log)
        await carol.message(bot_user, "Coffee is on us.", news, timeout=120)
        report = await carol.message(bot_user, "was not sent", control, timeout=60)
        assert "Kring was down from" in report.content["body"] and "Too late for this one" in report.content["body"]
        assert report.content["msgtype"] == "m.text"
        # a marker sent now arrives after anything queued before it in that room
        await _ask(carol, bot_user, control, "!announce Marker.", "!confirm")
        await _ask(carol, bot_user, control, "!confirm", "is being sent now")
        await carol.message(bot_user, "Marker.", news, timeout=60)
        assert carol.count(bot_user, "Coffee is on us.", news) == 1, "sent once after the restart"
        assert carol.count(bot_user, "Too late for this one", news) == 0, "older than the window: not sent"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
