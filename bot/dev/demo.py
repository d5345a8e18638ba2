"""`kring demo`: a local Synapse, the bot, demo accounts, on this machine only.

Data lives in one folder (default .demo, git-ignored); a second run reuses the same homeserver,
accounts and bot device. Ctrl-C stops the bot and the homeserver cleanly."""
from __future__ import annotations

import json
import secrets
import socket
import logging
import os
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from api.i18n import Translator, known_language
from bot import logs
from bot.app import Kring
from bot.config import load_config
from bot.dev.leftover import running_pid, stop
from bot.dev.synapse import LocalSynapse
from bot.chat import OutboxChat
from storage import cases, events, members, networks, registrations as regs, schedule, sessions, topics

NETWORK = "demo"
ACCOUNTS = {  # localpart: (display name, role in the demo network)
    "coco": ("Coco Coordinator", "coordinator"),
    "fay": ("Fay Facilitator", "facilitator"),
    "ann": ("Ann Member", "member"),
    "ben": ("Ben Member", "member"),
    "cas": ("Cas Member", "member"),
}
PREFERRED_PORT = int(os.environ.get("KRING_DEMO_PORT", "8008"))  # the tests give each run its own


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _secrets(folder: Path) -> dict[str, str]:
    """Demo passwords and the bot's key passphrase, made once and kept (mode 0600)."""
    path = folder / "accounts.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {name: secrets.token_urlsafe(9) for name in [*ACCOUNTS, "kring", "key_passphrase"]}
    path.write_text(json.dumps(values, indent=1))
    path.chmod(0o600)
    return values


def _write_config(folder: Path, server: LocalSynapse, bot_user: str, passwords: dict[str, str], t: Translator) -> Path:
    path = folder / "config.yaml"
    coordinator = f"@coco:{server.server_name}"
    config = {
        "matrix": {"homeserver": server.url, "user_id": bot_user, "password": passwords["kring"],
                   "device_name": "Kring demo", "store_path": str(folder / "bot" / "store"),
                   "key_passphrase": passwords["key_passphrase"]},
        "storage": {"database_url": f"sqlite+aiosqlite:///{folder / 'bot' / 'kring.db'}"},
        "bot": {"coordinators": [coordinator], "timezone": "Europe/Amsterdam", "language": "en"},
        "networks": [{"id": NETWORK, "name": t("demo.network").plain, "language": t.language,
                      "coordinators": [coordinator], "polls": {"members_may_create": True}}],
        "methods": [DEMO_METHOD],  # a method added in config, beside the shipped ones
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


DEMO_EVENT = "demo-meeting"
FEEDBACK_EVENT = "demo-feedback"  # ended two hours ago: Ann, Ben and Cas are asked for feedback at start
SESSIONS_EVENT = "demo-intervision"  # split into one group (Ann, Ben, Cas; Fay facilitates): open its room
DEMO_METHOD = {
    "key": "check-in",
    "name": {"en": "Check-in", "nl": "Check-in", "nb": "Innsjekk"},
    "description": {"en": "A short written check-in, then one spoken round.",
                    "nl": "Een korte schriftelijke check-in, daarna één gesproken ronde.",
                    "nb": "En kort skriftlig innsjekk, deretter én muntlig runde."},
    "phases": [
        {"title": {"en": "How are you?", "nl": "Hoe gaat het?", "nb": "Hvordan har du det?"},
         "instruction": {"en": "Send me one sentence on how you arrive today.",
                         "nl": "Stuur mij één zin over hoe u vandaag binnenkomt.",
                         "nb": "Send meg én setning om hvordan du kommer inn i dag."},
         "minutes": 3, "round": True, "written": True, "names_shown": False},
        {"title": {"en": "Round", "nl": "Ronde", "nb": "Runde"},
         "instruction": {"en": "Everyone in turn says what they hope to take away.",
                         "nl": "Iedereen zegt om de beurt wat hij of zij hoopt mee te nemen.",
                         "nb": "Alle sier etter tur hva de håper å ta med seg."},
         "minutes": 10, "round": True},
    ],
}
DEMO_ZONE = ZoneInfo("Europe/Amsterdam")
log = logging.getLogger("kring.dev")


async def _seed(kring: Kring, server_name: str, t: Translator) -> None:
    """Demo accounts as members of the demo network (invited to its rooms), and a demo event."""
    now = datetime.now(timezone.utc)
    async with kring.db.transaction() as session:
        chat = OutboxChat(session, now)
        rooms = await networks.rooms(session, NETWORK)
        for localpart, (_name, role) in ACCOUNTS.items():
            user_id = f"@{localpart}:{server_name}"
            if NETWORK in await members.roles(session, user_id):
                continue
            await members.set_role(session, NETWORK, user_id, role, now)
            for kind in ("space", "lobby", "announcements") + (("control",) if role == "coordinator" else ()):
                if kind in rooms:
                    await chat.invite(rooms[kind], user_id)
        if await events.by_slug(session, DEMO_EVENT) is None:
            # 17:30 on the event's own clock (Amsterdam), as its programme says, two weeks ahead.
            day = (now + timedelta(days=14)).astimezone(DEMO_ZONE).date()
            starts = datetime.combine(day, time(17, 30), DEMO_ZONE).astimezone(timezone.utc)
            event = await events.create(session, {
                "slug": DEMO_EVENT, "network": NETWORK, "title": t("demo.event.title").plain,
                "purpose": t("demo.event.purpose").plain, "expectations": t("demo.event.expectations").plain,
                "programme": t("demo.event.programme").plain,
                "timezone": DEMO_ZONE.key, "starts_at": starts, "ends_at": starts + timedelta(hours=2),
                "place": "Online", "capacity": 2, "closes_at": starts - timedelta(days=1),
                "waitlist_mode": "offer", "offer_hours": 2, "created_by": f"@coco:{server_name}",
            }, [], now)
            event.state, event.published_at = events.PUBLISHED, now
            # A case already in the queue (Ben's, pseudonymous), for the coordinator to schedule.
            await cases.add(session, network=NETWORK, user_id=f"@ben:{server_name}", title=t("demo.case.title").plain,
                            body=t("demo.case.text").plain, summary=t("demo.case.summary").plain, named=False,
                            coordinators_read=True, event_id=event.id, file=None, file_to_session=False, now=now)
        if await events.by_slug(session, FEEDBACK_EVENT) is None:
            await _past_meeting(session, server_name, t, now)
        if not await topics.listing(session, NETWORK):  # a proposal with a vote, to try !topics on
            ann, ben = f"@ann:{server_name}", f"@ben:{server_name}"
            topic = await topics.propose(session, NETWORK, ann, t("demo.topic").plain, now)
            await topics.vote(session, topic.id, ben, now)
        if await events.by_slug(session, SESSIONS_EVENT) is None:
            await _intervision_day(session, server_name, t, now)
    kring.outbox.wake()
    kring.schedule.wake()


async def _past_meeting(session, server_name: str, t: Translator, now: datetime) -> None:  # noqa: ANN001
    """A meeting that ended two hours ago with Ann, Ben and Cas as participants: the feedback
    request (due an hour after the end) goes out as soon as the bot runs."""
    ends = now - timedelta(hours=2)
    event = await events.create(session, {
        "slug": FEEDBACK_EVENT, "network": NETWORK, "title": t("demo.feedback_event.title").plain,
        "purpose": t("demo.feedback_event.purpose").plain, "timezone": DEMO_ZONE.key,
        "starts_at": ends - timedelta(hours=2), "ends_at": ends, "place": "Online", "capacity": 10,
        "closes_at": ends - timedelta(hours=3), "created_by": f"@coco:{server_name}",
    }, [], now)
    event.state, event.published_at = events.PUBLISHED, now
    for localpart in ("ann", "ben", "cas"):
        await regs.put(session, event_id=event.id, workshop_id=None, user_id=f"@{localpart}:{server_name}",
                       state=regs.CONFIRMED, arrived_at=now, arrival_event_id=f"$demo-{localpart}", now=now)
    await schedule.put(session, f"feedback.ask:{event.id}", "feedback.ask", ends + timedelta(hours=1),
                       {"event": event.id}, now)


async def _intervision_day(session, server_name: str, t: Translator, now: datetime) -> None:  # noqa: ANN001
    """An intervision day in three weeks with Ann, Ben and Cas confirmed and already split into
    one closed group that Fay facilitates; its private room is opened by `!session open`."""
    day = (now + timedelta(days=21)).astimezone(DEMO_ZONE).date()
    starts = datetime.combine(day, time(9, 30), DEMO_ZONE).astimezone(timezone.utc)
    event = await events.create(session, {
        "slug": SESSIONS_EVENT, "network": NETWORK, "title": t("demo.sessions_event.title").plain,
        "purpose": t("demo.sessions_event.purpose").plain, "timezone": DEMO_ZONE.key,
        "starts_at": starts, "ends_at": starts + timedelta(hours=7), "place": "Utrecht", "capacity": 12,
        "closes_at": starts - timedelta(days=2), "created_by": f"@coco:{server_name}",
    }, [], now)
    event.state, event.published_at = events.PUBLISHED, now
    group = [f"@{localpart}:{server_name}" for localpart in ("ann", "ben", "cas")]
    for user_id in group:
        await regs.put(session, event_id=event.id, workshop_id=None, user_id=user_id, state=regs.CONFIRMED,
                       arrived_at=now, arrival_event_id=f"$demo-day-{user_id}", now=now)
    [row] = await sessions.create(session, event.id, None, 12, [group], now)
    sessions.set_facilitator(row, f"@fay:{server_name}", now)


async def _take_over(folder: Path) -> Path:
    """A demo an earlier run left running from this folder (its terminal killed, say) is stopped
    first: it stops its bot and homeserver cleanly. Returns this run's pid file."""
    pid_file = folder / "demo.pid"
    earlier = running_pid(pid_file, "demo")
    if earlier:
        log.warning("stopping the demo still running from %s (pid %s)", folder, earlier)
        await stop(earlier, timeout=60)
    pid_file.write_text(f"{os.getpid()}\n")
    return pid_file


async def run_demo(folder: Path, language: str = "en") -> None:
    """`language`: the demo network's (its rooms, its demo event, what its members read) and that
    of the welcome printed here."""
    t = Translator(known_language(language) or "en")
    shown = folder
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = await _take_over(folder)
    try:
        await _run(folder, shown, t)
    finally:
        pid_file.unlink(missing_ok=True)


async def _run(folder: Path, shown: Path, t: Translator) -> None:
    passwords = _secrets(folder)
    first_port = PREFERRED_PORT if _port_free(PREFERRED_PORT) else None
    server = LocalSynapse(folder / "synapse", port=first_port if not (folder / "synapse").exists() else None)
    await server.start()
    try:
        bot_user = await server.register_user("kring", passwords["kring"], displayname="Kring")
        for localpart, (name, _role) in ACCOUNTS.items():
            await server.register_user(localpart, passwords[localpart], displayname=name)
        config = load_config(_write_config(folder, server, bot_user, passwords, t))
        logs.setup("WARNING")
        kring = Kring(config)
        await kring.start()
        await _seed(kring, server.server_name, t)
        _print_welcome(server, bot_user, passwords, folder, shown, t)
        try:
            await kring.run_tasks()
        finally:
            await kring.stop()
    finally:
        await server.stop()


def _print_welcome(server: LocalSynapse, bot_user: str, passwords: dict[str, str], folder: Path, shown: Path,
                   t: Translator) -> None:
    width = max(len(n) for n, _r in ACCOUNTS.values())
    password = t("demo.password").plain
    logins = "\n".join(
        f"  {name:<{width}}  @{lp}:{server.server_name}  {password}: {passwords[lp]}  ({t('members.role.' + role).plain})"
        for lp, (name, role) in ACCOUNTS.items()
    )
    welcome = t("demo.welcome", homeserver=server.url, bot=bot_user, accounts=folder / "accounts.json",
                logins=logins, event=DEMO_EVENT, shown=shown).plain
    body, sep, last = welcome.rpartition("\n\n")  # the feedback story before the closing line on Ctrl-C
    guide = t("demo.guide", event=DEMO_EVENT, ann=f"@ann:{server.server_name}").plain
    sessions_line = t("demo.sessions", event=SESSIONS_EVENT).plain
    print("\n" + body + "\n\n" + t("demo.feedback", event=FEEDBACK_EVENT).plain + "\n\n" + guide + "\n\n"
          + t("demo.polls").plain + "\n\n" + sessions_line + sep + last + "\n",
          flush=True)
