"""Issue 17 on a real Synapse: a whole intake with a PDF by an Element-like member, an intake that
survives a restart, and the leak test: unique markers planted in case titles, texts, summaries and
a PDF, every flow run (intake, open-room attempt, unencrypted DM, assign, refuse, agree, share,
withdraw, forgetme, purge with an injected clock), then every room timeline any account can see
(decrypted), the bot's log and every database table are read: a marker may appear only where the
issue allows it."""
from __future__ import annotations

import asyncio
import io
import logging
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nio
import pytest
from sqlalchemy import MetaData, select

from bot import logs
from storage import events, networks, sessions
from storage.database import Database
from storage.models import Case, GroupSession
from tests.element_member import ElementMember, ensure_node_modules
from tests.integration.conftest import PASSWORD
from tests.integration.members import NioMember


def pdf_with(marker: str, size: int = 0) -> bytes:
    head = f"%PDF-1.4\n% {marker}\n1 0 obj\n<<>>\nendobj\n".encode()
    return head + b"%" * max(0, size - len(head) - 6) + b"\n%%EOF"


class Clock:
    """The bot's clock, moved by the test (retention is measured in days)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


async def ask(member: NioMember, room: str, text: str) -> str:
    """Send and return the bot's answer (the next notice after it in the DM)."""
    event_id = await member.send(room, text)
    seen = await member.reply_to(BOT[0], room, event_id, timeout=60)
    return seen.content.get("body", "")


BOT: list[str] = []  # the bot's user id of the running test, for ask()


async def send_pdf(member: NioMember, room: str, name: str, data: bytes) -> str:
    """An encrypted attachment, as a client sends one into an encrypted room."""
    resp, keys = await member.client.upload(lambda *_: io.BytesIO(data), content_type="application/pdf",
                                            filename=name, encrypt=True, filesize=len(data))
    assert isinstance(resp, nio.UploadResponse), resp
    content = {"msgtype": "m.file", "body": name, "filename": name,
               "info": {"mimetype": "application/pdf", "size": len(data)},
               "file": {**keys, "url": resp.content_uri, "mimetype": "application/pdf"}}
    event_id = await member.send(room, name, **{k: v for k, v in content.items() if k != "body"})
    return (await member.reply_to(BOT[0], room, event_id, timeout=120)).content.get("body", "")


async def intake(member: NioMember, room: str, m: dict[str, str], *, pdf: bytes | None = None,
                 coordinators: str = "2", named: str = "2") -> str:
    assert "who sees what" in await ask(member, room, "!case")
    await ask(member, room, "1")
    await ask(member, room, m["title"])
    await ask(member, room, f"It started with {m['text']}.")
    await ask(member, room, "done")
    await ask(member, room, named)
    await ask(member, room, coordinators)
    if pdf is None:
        await ask(member, room, "-")
    else:
        assert "kept your PDF" in await send_pdf(member, room, f"{m['file']}.pdf", pdf)
        await ask(member, room, "1")
    await ask(member, room, "0")
    await ask(member, room, m["summary"])
    receipt = await ask(member, room, "1")
    assert "received as" in receipt, receipt
    return receipt.split("received as ", 1)[1].split(".", 1)[0]


def markers(tag: str) -> dict[str, str]:
    unique = secrets.token_hex(3).upper()
    return {part: f"MK{tag}{letter}{unique}" for part, letter in (("title", "T"), ("text", "X"), ("summary", "S"),
                                                                   ("file", "F"))}


@pytest.fixture
async def world(make_bot, make_member, synapse, tmp_path: Path):  # noqa: ANN201
    """A bot with a coordinator (Carol, in the control room), an event with two sessions and a
    room for each (made by Carol, the bot invited), and a mutable clock."""
    clock = Clock()
    bot = await make_bot(start=False, clock=clock)
    BOT[:] = [bot.user_id]
    carol = await make_member("carol", encrypted=True)
    await bot.grant(carol.user_id, "coordinator")
    await bot.start()
    db = Database(bot.config.storage.database_url)
    async with db.read() as s:
        control = await networks.room_id(s, "main", "control")
    await carol.wait_joined(control, carol.user_id, timeout=60)
    rooms = [await carol.group_with(bot.user_id, encrypted=True) for _ in range(2)]
    now = clock()
    async with db.transaction() as s:
        event = await events.create(s, {
            "slug": "intervision", "network": "main", "title": "Intervision day", "purpose": "Cases",
            "timezone": "Europe/Amsterdam", "starts_at": now + timedelta(days=1), "ends_at": now + timedelta(days=1, hours=3),
            "capacity": 20, "closes_at": now + timedelta(hours=12)}, [], now)
        event.state, event.published_at = events.PUBLISHED, now
        groups = await sessions.create(s, event.id, None, 4, [[carol.user_id], []], now)
        for group, room in zip(groups, rooms):  # Carol facilitates both: she belongs in both rooms
            group.room_id, group.room_state, group.facilitator = room, sessions.OPEN, carol.user_id
    yield bot, carol, control, rooms, clock, db
    await db.close()


async def member_of(bot, make_member, name: str) -> tuple[NioMember, str]:  # noqa: ANN001
    member = await make_member(name, encrypted=True)
    await bot.grant(member.user_id, "member")
    room = await member.dm(bot.user_id, encrypted=True)
    return member, room


async def visible_bodies(member: NioMember) -> dict[str, list[str]]:
    """Every message content (decrypted where the account can) in every room the account is in,
    read back from the homeserver with /messages."""
    out: dict[str, list[str]] = {}
    await member.next_sync()
    for room_id in list(member.client.rooms):
        texts: list[str] = []
        resp = await member.client.room_messages(room_id, start=member.client.next_batch, limit=1000,
                                                 direction=nio.MessageDirection.back)
        assert isinstance(resp, nio.RoomMessagesResponse), resp
        for event in resp.chunk:
            if isinstance(event, nio.MegolmEvent):
                try:
                    event = member.client.decrypt_event(event)
                except Exception:  # noqa: BLE001 - a message this account has no key for
                    pass
            texts.append(str(event.source.get("content", {})) + str(getattr(event, "body", "")))
        out[room_id] = texts
    return out


async def test_an_element_member_brings_in_a_case_with_a_pdf(make_bot, synapse) -> None:
    ensure_node_modules()
    bot = await make_bot()
    name = "elise"
    user_id = await synapse.register_user(name, PASSWORD)
    await bot.grant(user_id, "member")
    member = ElementMember(name)
    await member.start()
    try:
        await member.login(synapse.url, user_id, PASSWORD)
        room = await member.create_dm(bot.user_id, encrypted=True)
        await member.wait_joined(room, bot.user_id)

        async def say(text: str) -> str:
            sent = await member.send(room, text)
            reply = await member.wait_message(room, bot.user_id, after=sent, timeout_ms=60000)
            assert reply.decrypted, reply.error
            return reply.body

        assert "who sees what" in await say("!case")
        for answer in ("1", "Element case", "A text without names.", "done", "2", "2"):
            last = await say(answer)
        assert "add one PDF" in last
        data = pdf_with("MKELEMENTPDF", 300_000)
        path = Path(bot.home) / "sent.pdf"
        path.write_bytes(data)
        sent = await member.send_file(room, path, name="notes.pdf", mimetype="application/pdf")
        kept = await member.wait_message(room, bot.user_id, after=sent, timeout_ms=120000)
        assert "kept your PDF (292 KB)" in kept.body, kept.body
        for answer in ("2", "0", "1"):
            await say(answer)
        assert "received as" in await say("1")
    finally:
        await member.close()
    [handle] = bot.kring.vault.handles()
    stored = (bot.kring.vault.folder / f"{handle}.bin").read_bytes()
    assert b"MKELEMENTPDF" not in stored, "kept encrypted at rest"
    assert bot.kring.vault.read(handle) == data, "decrypted from the attachment exactly"
    assert not any((bot.kring.downloads.folder).iterdir()), "nothing left in the download folder"


async def test_an_intake_interrupted_by_a_restart_resumes(make_bot, make_member) -> None:
    bot = await make_bot()
    BOT[:] = [bot.user_id]
    dave, room = await member_of(bot, make_member, "dave")
    await ask(dave, room, "!case")
    await ask(dave, room, "1")
    assert "describe the case" in await ask(dave, room, "A title before the restart")
    await bot.restart()
    assert "Noted (1 message)" in await ask(dave, room, "Text after the restart.")
    assert "see your name" in await ask(dave, room, "done")


@pytest.fixture
def bot_log():  # noqa: ANN201
    """The bot's log as it writes it (bot/logs.py at DEBUG, the most it ever says), line by line."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logs.NOISY}
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(logs.JsonFormatter().format(record))

    logs.setup("DEBUG")
    root.addHandler(Keep())
    yield lines
    root.handlers[:], _, _ = saved[0], None, None
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


async def test_nothing_leaks(world, make_member, bot_log: list[str]) -> None:
    bot, carol, control, (session1, session2), clock, db = world
    dave, dm = await member_of(bot, make_member, "dave")
    erin, erin_dm = await member_of(bot, make_member, "erin")
    A, B, C, D, O = markers("A"), markers("B"), markers("C"), markers("D"), markers("O")

    # An open-room attempt: redacted, explained in a DM.
    attempt = await carol.send(control, f"!case {O['title']} {O['text']}")
    await carol.first(lambda s: s.sender == bot.user_id and "I removed your message" in s.content.get("body", ""),
                      timeout=60)
    redacted = await carol.client.room_get_event(control, attempt)
    assert isinstance(redacted, nio.RoomGetEventResponse)
    assert not redacted.event.source.get("content"), "the attempt is redacted in the room"

    # An unencrypted DM: refused, an encrypted one opened.
    plain = await dave.dm(bot.user_id, encrypted=False)
    assert "not end-to-end encrypted" in await ask(dave, plain, "!case")

    # Case A: with a PDF, coordinators may not read the text; assign, refuse, assign, agree, share.
    ref_a = await intake(dave, dm, A, pdf=pdf_with(A["file"]))
    shown = await carol_says(carol, control, f"!case show {ref_a}")
    assert A["title"] in shown and A["text"] not in shown
    await carol_says(carol, control, f"!case assign {ref_a} intervision/1")
    assert "stays in the queue" in await ask(dave, dm, f"!refuse {ref_a}")
    await carol_says(carol, control, f"!case assign {ref_a} intervision/1")
    assert "is scheduled into session intervision/1" in await ask(dave, dm, f"!agree {ref_a}")
    summary = await carol.first(lambda s: s.room_id == session1 and s.sender == bot.user_id
                                and A["title"] in s.content.get("body", ""), timeout=60)
    assert A["summary"] in summary.content["body"] and A["text"] not in summary.content["body"], \
        "the session room receives only the title and the approved summary"
    pdf = await carol.first(lambda s: s.room_id == session1 and s.content.get("msgtype") == "m.file", timeout=60)
    assert pdf.content["body"] == f"{A['file']}.pdf"
    got = await carol.client.download(pdf.content["file"]["url"])
    assert isinstance(got, nio.DownloadResponse), got
    plain = nio.crypto.attachments.decrypt_attachment(
        got.body, pdf.content["file"]["key"]["k"], pdf.content["file"]["hashes"]["sha256"], pdf.content["file"]["iv"])
    assert plain == pdf_with(A["file"]), "the session room gets the case-bringer's PDF, whole"
    await dave.wait_membership(session1, dave.user_id, "join", timeout=60)
    await dave.send(session1, "!case share")
    await carol.first(lambda s: s.room_id == session1 and A["text"] in s.content.get("body", ""), timeout=60)

    # Case B: coordinators may read; shown, then withdrawn.
    ref_b = await intake(dave, dm, B, coordinators="1")
    assert B["text"] in await carol_says(carol, control, f"!case show {ref_b}")
    assert "erased" in await ask(dave, dm, f"!case withdraw {ref_b}")

    # Case C: never scheduled: purged after 180 days.
    await intake(dave, dm, C)

    # Case D: Erin's, agreed into session 2, then Erin asks to be forgotten.
    ref_d = await intake(erin, erin_dm, D, named="1")
    await carol_says(carol, control, f"!case assign {ref_d} intervision/2")
    await ask(erin, erin_dm, f"!agree {ref_d}")
    posted = await carol.first(lambda s: s.room_id == session2 and D["title"] in s.content.get("body", ""), timeout=60)
    await ask(erin, erin_dm, "!forgetme")
    await erin.send(erin_dm, "!confirm")
    await wait_redacted(carol, session2, posted.event_id)

    # The retention time passes (an injected clock); the sweep erases and tells only how many.
    clock.offset = timedelta(days=181)
    await bot.kring.schedule.run_due()
    told = await carol.first(lambda s: s.room_id == control and "reached the end" in s.content.get("body", ""),
                             timeout=60)
    assert "2 cases" in told.content["body"], told.content["body"]  # C unscheduled, A 30 days after its session
    await bot.kring.outbox.settled(30)

    # ---- read everything --------------------------------------------------------------------
    allowed = {
        dm: {*A.values(), *B.values(), *C.values()},
        plain: set(),
        erin_dm: {*D.values()},
        session1: {A["title"], A["summary"], A["text"], A["file"]},
        session2: set(),  # D's post was redacted
        control: {A["title"], B["title"], B["text"], B["summary"], C["title"], D["title"]},  # B: text allowed
    }
    everything = [*A.values(), *B.values(), *C.values(), *D.values(), *O.values()]
    seen: set[tuple[str, str]] = set()
    for account in (carol, dave, erin):
        for room_id, texts in (await visible_bodies(account)).items():
            for marker in everything:
                if any(marker in t for t in texts):
                    seen.add((room_id, marker))
                    assert marker in allowed.get(room_id, set()), f"{marker} seen by {account.user_id} in {room_id}"
    # The reading is real: what is allowed was decrypted and found where it was posted.
    assert {(session1, A["summary"]), (session1, A["text"]), (control, B["text"]), (dm, C["title"])} <= seen
    log_text = "\n".join(bot_log)
    assert "command" in log_text, "the log was captured"
    assert not [m for m in everything if m in log_text], "the bot's log holds a case marker"
    for table, rows in (await all_rows(db)).items():
        for row in rows:
            found = [m for m in everything if m in row]
            assert not found or table == "cases", f"{found} in table {table}"
            assert not [m for m in found if m[2] in "BCDO"], f"{found} kept after withdrawal, purge or forgetme"
    for path in Path(bot.config.files_path).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [m for m in everything if m.encode() in data], f"plain marker in {path}"


async def carol_says(carol: NioMember, room: str, text: str) -> str:
    event_id = await carol.send(room, text)
    return (await carol.reply_to(BOT[0], room, event_id, timeout=60)).content.get("body", "")


async def wait_redacted(member: NioMember, room: str, event_id: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await member.client.room_get_event(room, event_id)
        if isinstance(resp, nio.RoomGetEventResponse) and not resp.event.source.get("content"):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{event_id} was not redacted")
        await member.next_sync()


async def all_rows(db: Database) -> dict[str, list[str]]:
    """Every row of every table of the bot's database, as text."""
    out: dict[str, list[str]] = {}
    async with db.read() as s:
        meta = MetaData()
        await s.run_sync(lambda sync: meta.reflect(bind=sync.connection()))
        for table in meta.sorted_tables:
            out[table.name] = [str(tuple(r)) for r in (await s.execute(select(table))).all()]
    return out
