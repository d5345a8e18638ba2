"""Confidential cases through the real Dispatcher and SQLite: the intake in an encrypted DM (with a
PDF kept encrypted), the refusal of an unencrypted DM and of any other room, the queue, assigning
with the case-bringer's agreement, sharing, withdrawal, the retention sweep and !forgetme. Plus
the pure rules: identifier detection and the case's states."""
from __future__ import annotations

import itertools
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from api.files import Received
from bot.matrix.incoming import FileRef, Incoming
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from api import identifiers
from commands.cases import rules
from storage import sessions
from storage.database import Database
from storage.models import Case, Conversation, GroupSession
from storage.vault import FileVault
from tests.unit.event_world import CONTROL, LOBBY, EventWorld, Said
from tests.unit.helpers import FakeClock

PDF = b"%PDF-1.4\n% MARKER-PDF-7Q\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
_ids = itertools.count(1)


class CaseWorld(EventWorld):
    """Messages arrive encrypted unless said otherwise; files are 'downloaded' from a local folder."""

    async def say(self, user: str, body: str, *, room: str | None = None, encrypted: bool = True,
                  **kw) -> Said:  # noqa: ANN003
        msg = Incoming(event_id=f"$c{next(_ids):06d}", room_id=room or self.dm(user), sender=user, body=body,
                       origin_time=self.clock.now, encrypted=encrypted)
        await self.dispatcher.handle(msg)
        return await self.new_output()

    async def send_file(self, user: str, name: str, data: bytes) -> Said:
        source = self.files / name
        source.write_bytes(data)
        msg = Incoming(event_id=f"$f{next(_ids):06d}", room_id=self.dm(user), sender=user, body="",
                       origin_time=self.clock.now, encrypted=True,
                       file=FileRef(url=f"mxc://example.org/{name}", name=name, mimetype="application/pdf"))
        await self.dispatcher.handle(msg)
        return await self.new_output()


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock, tmp_path: Path) -> CaseWorld:
    dispatcher = make_dispatcher()
    vault = FileVault(tmp_path / "kept", b"k" * 32, max_bytes=1000)
    files = tmp_path / "sent"
    files.mkdir()

    async def fetch(ref: FileRef, limit: int) -> Received:
        source = files / ref.url.rsplit("/", 1)[1]
        size = source.stat().st_size
        if size > limit:
            return Received(ref.name, ref.mimetype, size, None, too_large=True)
        target = tmp_path / f"in-{next(_ids)}"
        shutil.copy(source, target)
        return Received(ref.name, ref.mimetype, size, target)

    dispatcher.vault, dispatcher.fetch = vault, fetch
    w = CaseWorld(db, dispatcher, clock)
    w.files, w.vault = files, vault
    return await w.setup()


def runner(world: CaseWorld) -> ScheduleRunner:
    return ScheduleRunner(world.db, Registry.discover().jobs, world.clock, catch_up=timedelta(days=400),
                          language="en", vault=world.vault)


async def intake(world: CaseWorld, user: str, *, title: str = "Team lead ignores reports", text: str = "It began in May.",
                 pdf: bytes | None = None, event: str = "0", summary: str = "1", named: str = "2",
                 coordinators: str = "2", share_pdf: str = "1") -> str:
    """A whole intake; returns the case id from the receipt."""
    assert "who sees what" in (await world.say(user, "!case")).text()
    for answer in ("1", title, text, "done", named, coordinators):
        said = await world.say(user, answer)
    if pdf is None:
        said = await world.say(user, "-")
    else:
        assert "kept your PDF" in (await world.send_file(user, "case.pdf", pdf)).text()
        said = await world.say(user, share_pdf)
    assert "Which event" in said.text(), said.text()
    await world.say(user, event)
    await world.say(user, summary)
    receipt = (await world.say(user, "1")).text()
    assert "your case has been received as" in receipt, receipt
    return receipt.split("received as ", 1)[1].split(".", 1)[0]


async def cases_rows(world: CaseWorld) -> list[Case]:
    async with world.db.transaction() as s:
        return list((await s.execute(select(Case).order_by(Case.id))).scalars())


# ---- the rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, found", [
    ("Mail haar op j.devries@gemeente-voorbeeld.nl als het kan.", identifiers.Kind.EMAIL, "j.devries@gemeente-voorbeeld.nl"),
    ("Zijn nummer is 06-12345678.", identifiers.Kind.PHONE, "06-12345678"),
    ("Bel 020 123 4567 na vijven.", identifiers.Kind.PHONE, "020 123 4567"),
    ("Ring henne på 912 34 567.", identifiers.Kind.PHONE, "912 34 567"),
    ("Bellen kan op +32 470 12 34 56.", identifiers.Kind.PHONE, "+32 470 12 34 56"),
    ("Het geld ging naar NL91 ABNA 0417 1643 00.", identifiers.Kind.IBAN, "NL91 ABNA 0417 1643 00"),
    ("Konto NO9386011117947 ble brukt.", identifiers.Kind.IBAN, "NO9386011117947"),
    ("Ze woont op Dorpsstraat 12, 1234 AB Ergenshuizen.", identifiers.Kind.ADDRESS, "Dorpsstraat 12, 1234 AB"),
    ("Postadres 3511 LK 7, dat weet iedereen.", identifiers.Kind.ADDRESS, "3511 LK 7"),
    ("Han bor i Storgata 12 B, 0155 Oslo.", identifiers.Kind.ADDRESS, "Storgata 12 B, 0155 Oslo"),
    ("Het kantoor zit aan de Rue de la Loi 16, 1000 Brussel.", identifiers.Kind.ADDRESS, "Rue de la Loi 16, 1000 Brussel"),
])
def test_identifiers_are_found(text: str, kind: identifiers.Kind, found: str) -> None:
    assert (kind, found) in [(f.kind, f.text) for f in identifiers.identifiers(text)]


@pytest.mark.parametrize("text", [
    "Een medewerker van afdeling 4B meldde op 3 juni 2024 dat haar leidinggevende haar 5 keer had aangesproken op "
    "haar kleding. Het team telt 12 mensen en bestaat 15 jaar; in 2023 waren er 1200 meldingen in de hele sector.",
    "De vergadering is op 12 maart om 14.30 uur in zaal 3. Het budget is 250.000 euro, 15 procent meer dan in 2022. "
    "Zie artikel 7:658 BW en hoofdstuk 3 van de Arbowet.",
    "In 2024 mottok vi 250 henvendelser. Møtet er 14. mars kl. 10.00 i rom 4, og budsjettet er 1 200 000 kroner, "
    "12 prosent mer enn i 2023. Se arbeidsmiljøloven § 4-3 og kapittel 13.",
    "En kollega i avdeling 3 har vært sykmeldt i 6 uker etter en konflikt med lederen sin. Hun er 45 år og har "
    "jobbet her i 20 år. Oslo 2025 var tema på samlingen.",
])
def test_ordinary_dutch_and_norwegian_text_raises_no_alarm(text: str) -> None:
    assert identifiers.identifiers(text) == []


def test_a_case_moves_only_along_its_allowed_states() -> None:
    s = rules.State
    a = rules.Action
    assert rules.move(s.QUEUED, a.ASSIGN) is s.ASKED
    assert rules.move(s.ASKED, a.REFUSE) is s.QUEUED
    assert rules.move(s.ASKED, a.ASSIGN) is s.ASKED
    assert rules.move(s.ASKED, a.AGREE) is s.AGREED
    for state in rules.OPEN:
        assert rules.move(state, a.WITHDRAW) is s.WITHDRAWN
        assert rules.move(state, a.PURGE) is s.PURGED
    for state, action in [(s.QUEUED, a.AGREE), (s.QUEUED, a.REFUSE), (s.AGREED, a.ASSIGN), (s.AGREED, a.REFUSE),
                          (s.WITHDRAWN, a.WITHDRAW), (s.PURGED, a.ASSIGN), (s.WITHDRAWN, a.AGREE)]:
        with pytest.raises(rules.NotAllowed):
            rules.move(state, action)


# ---- intake -------------------------------------------------------------------------------------

async def test_an_intake_ends_with_a_receipt_and_the_control_room_hears_id_and_event_only(world: CaseWorld) -> None:
    await world.person("carol", "coordinator")
    dave = await world.person("dave")
    before = await world.say(dave, "!case")
    assert "must not identify anyone" in before.text() and "Type 1 if you agree" in before.text()
    await world.say(dave, "1")
    asked = await world.say(dave, "MARKER-TITLE")
    assert "describe the case" in asked.text()
    await world.say(dave, "First part MARKER-TEXT.")
    between = await world.say(dave, "!cases")
    assert "You have no open cases" in between.text(), "a command meanwhile runs, and is not added to the text"
    await world.say(dave, "Second part.")
    assert "Should the group see your name" in (await world.say(dave, "done")).text()
    await world.say(dave, "2")
    assert "You may add one PDF" in (await world.say(dave, "2")).text()
    assert "Which event" in (await world.say(dave, "-")).text()
    assert "summary the group will see" in (await world.say(dave, "0")).text()
    assert "MARKER-SUMMARY" in (await world.say(dave, "MARKER-SUMMARY")).text()
    done = await world.say(dave, "1")
    ref = done.to_user(dave)[0].body.split("received as ", 1)[1].split(".", 1)[0] if done.to_user(dave) else \
        done.to_room(world.dm(dave))[0].body.split("received as ", 1)[1].split(".", 1)[0]
    [control] = done.to_room(CONTROL)
    assert f"New case {ref} for the next one" in control.body
    assert "MARKER" not in control.body
    [row] = await cases_rows(world)
    assert (row.title, row.summary, row.state, row.named) == ("MARKER-TITLE", "MARKER-SUMMARY", "queued", False)
    assert row.body == "First part MARKER-TEXT.\n\nSecond part."
    assert all(s.payload.get("private") for s in done if s.room_id == world.dm(dave)), "no copy kept once sent"


async def test_text_typed_after_the_command_is_not_kept_before_consent(world: CaseWorld) -> None:
    dave = await world.person("dave")
    said = (await world.say(dave, "!case MARKER my manager shouts")).text()
    assert "I have not kept what you typed" in said and "who sees what" in said and "MARKER" not in said
    async with world.db.transaction() as s:
        [row] = (await s.execute(select(Conversation))).scalars().all()
        assert "MARKER" not in str(row.data)


async def test_identifiers_are_quoted_with_the_choice_to_rewrite_or_keep(world: CaseWorld) -> None:
    dave = await world.person("dave")
    await world.say(dave, "!case")
    await world.say(dave, "1")
    await world.say(dave, "A title")
    await world.say(dave, "Call her on 06-12345678 or mail an@example.nl.")
    warned = (await world.say(dave, "done")).text()
    assert "06-12345678" in warned and "an@example.nl" in warned and "Type 1 to rewrite" in warned
    assert "title of your case" in (await world.say(dave, "1")).text()
    await world.say(dave, "A title")
    await world.say(dave, "Now without any numbers.")
    assert "Should the group see your name" in (await world.say(dave, "done")).text()


async def test_a_pdf_is_checked_by_content_and_kept_encrypted(world: CaseWorld) -> None:
    dave = await world.person("dave")
    await world.say(dave, "!case")
    for answer in ("1", "Title", "Text", "done", "1", "1"):
        await world.say(dave, answer)
    assert "is not a PDF" in (await world.send_file(dave, "fake.pdf", b"MZ not a pdf at all")).text()
    assert "larger than" in (await world.send_file(dave, "big.pdf", PDF + b"x" * 2000)).text()
    assert "kept your PDF" in (await world.send_file(dave, "case.pdf", PDF)).text()
    [handle] = world.vault.handles()
    stored = (world.vault.folder / f"{handle}.bin").read_bytes()
    assert b"MARKER-PDF" not in stored and world.vault.read(handle) == PDF
    for answer in ("1", "0", "1"):
        await world.say(dave, answer)
    assert "received as" in (await world.say(dave, "1")).text()
    [row] = await cases_rows(world)
    assert (row.file_handle, row.file_to_session, row.file_name) == (handle, True, "case.pdf")


async def test_a_file_outside_the_pdf_step_is_not_kept(world: CaseWorld) -> None:
    dave = await world.person("dave")
    await world.say(dave, "!case")
    said = await world.send_file(dave, "case.pdf", PDF)
    assert "only be added at the step" in said.text()
    assert world.vault.handles() == []


async def test_stop_keeps_nothing(world: CaseWorld) -> None:
    dave = await world.person("dave")
    await world.say(dave, "!case")
    await world.say(dave, "1")
    await world.say(dave, "MARKER-TITLE")
    await world.say(dave, "!stop")
    assert await cases_rows(world) == []
    async with world.db.transaction() as s:
        assert (await s.execute(select(Conversation))).first() is None


async def test_an_unencrypted_dm_is_refused_and_an_encrypted_one_opened(world: CaseWorld) -> None:
    dave = await world.person("dave")
    said = await world.say(dave, "!case", encrypted=False)
    [here] = said.to_room(world.dm(dave))
    assert "not end-to-end encrypted" in here.body
    [there] = [s for s in said if s.user_id == dave and s.room_id is None]
    assert "is end-to-end encrypted" in there.body, "sent to the person, not this room: a new DM is opened"
    async with world.db.transaction() as s:
        assert (await s.execute(select(Conversation))).first() is None


async def test_a_case_in_an_open_room_is_redacted_and_explained_in_a_dm(world: CaseWorld) -> None:
    dave = await world.person("dave")
    said = await world.say(dave, "!case MARKER-OPEN my manager at Acme", room=LOBBY)
    [redaction] = [s for s in said if s.kind == "redact"]
    assert redaction.room_id == LOBBY and "MARKER" not in str(redaction.payload)
    assert said.to_room(LOBBY) == []
    [told] = said.to_user(dave)
    assert "I removed your message" in told.body
    elsewhere = await world.say(dave, "!case MARKER-OPEN", room="!someones-room:example.org")
    assert [s for s in elsewhere if s.kind == "redact"] == [], "no power there: not tried"
    assert "please delete it yourself" in elsewhere.to_user(dave)[0].body


# ---- queue, assign, agree --------------------------------------------------------------------

async def split(world: CaseWorld, carol: str, slug: str, people: list[str]) -> None:
    for user in people:
        await world.say(user, f"!register {slug}")
    await world.say(carol, f"!groups {slug} size=3")
    await world.say(carol, "!confirm")


async def open_first_room(world: CaseWorld) -> int:
    """Group 1 has its room (as `!session open` would leave it); returns its session id."""
    async with world.db.transaction() as s:
        group = (await s.execute(select(GroupSession).order_by(GroupSession.number))).scalars().first()
        group.room_id, group.room_state = "!session1:example.org", "open"
        return group.id


async def test_queue_assign_refuse_assign_agree_and_share(world: CaseWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, mode="auto")
    people = await world.people(4)
    await split(world, carol, slug, people)
    first = await open_first_room(world)
    dave = await world.person("dave")
    ref = await intake(world, dave, title="MARKER-T", text="MARKER-X", summary="MARKER-S", pdf=PDF, coordinators="2")

    queue = (await world.say(carol, "!cases", room=CONTROL)).text()
    assert ref in queue and "MARKER-T" in queue and "pseudonymous" in queue and "MARKER-X" not in queue
    shown = (await world.say(carol, f"!case show {ref}", room=CONTROL)).text()
    assert "MARKER-T" in shown and "MARKER-X" not in shown and "has not allowed" in shown
    assert "never posted in a shared room" in (await world.say(carol, f"!case show {ref}", room=LOBBY)).text()

    asked = await world.say(carol, f"!case assign {ref} {slug}/1", room=CONTROL)
    assert f"asked the case-bringer of {ref}" in asked.text()
    assert f"!agree {ref}" in asked.to_user(dave)[0].body
    refused = await world.say(dave, f"!refuse {ref}")
    assert "stays in the queue" in refused.text()
    assert "declined session" in refused.to_room(CONTROL)[0].body
    assert "has not been proposed" in (await world.say(dave, f"!agree {ref}")).text()

    await world.say(carol, f"!case assign {ref} {slug}/1", room=CONTROL)
    agreed = await world.say(dave, f"!agree {ref}")
    assert f"scheduled into session {slug}/1" in agreed.text()
    posted = agreed.to_room("!session1:example.org")
    assert len(posted) == 1 and "MARKER-T" in posted[0].body and "MARKER-S" in posted[0].body
    assert "MARKER-X" not in posted[0].body and "a member" in posted[0].body and dave not in posted[0].body
    in_room = [s for s in agreed if s.room_id == "!session1:example.org"]
    assert any(s.kind == "invite" and s.payload["user_id"] == dave for s in in_room), "the case-bringer is invited"
    assert [s.kind for s in in_room if s.kind in ("message", "kept_file", "file")] == ["message", "kept_file"]
    assert "agreed" in agreed.to_room(CONTROL)[0].body and "MARKER" not in agreed.to_room(CONTROL)[0].body
    async with world.db.transaction() as s:
        group = await s.get(GroupSession, first)
        assert group.case_bringer == dave
        assert dave in [m.user_id for m in (await sessions.members(s, [group.id]))[group.id]]

    assert "You have no case scheduled" in (await world.say(people[0], "!case share",
                                                             room="!session1:example.org")).text()
    shared = await world.say(dave, "!case share", room="!session1:example.org")
    assert "MARKER-X" in shared.to_room("!session1:example.org")[0].body
    assert "already shared" in (await world.say(dave, "!case share", room="!session1:example.org")).text()


async def test_a_full_group_or_a_taken_session_is_refused_with_the_reason(world: CaseWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, mode="auto")
    await split(world, carol, slug, await world.people(3))
    dave = await world.person("dave")
    ref = await intake(world, dave)
    assert "group is full" in (await world.say(carol, f"!case assign {ref} {slug}/1", room=CONTROL)).text()
    assert "no session" in (await world.say(carol, f"!case assign {ref} {slug}/9", room=CONTROL)).text()


async def test_withdraw_erases_text_and_file_at_once(world: CaseWorld) -> None:
    await world.person("carol", "coordinator")
    dave = await world.person("dave")
    ref = await intake(world, dave, pdf=PDF)
    assert world.vault.handles()
    said = await world.say(dave, f"!case withdraw {ref}")
    assert "erased" in said.text() and "withdrawn" in said.to_room(CONTROL)[0].body
    [row] = await cases_rows(world)
    assert (row.state, row.title, row.body, row.summary, row.file_handle) == ("withdrawn", None, None, None, None)
    assert world.vault.handles() == []
    assert "no case" in (await world.say(dave, "!cases")).text().lower() or "no open cases" in (
        await world.say(dave, "!cases")).text()


async def test_someone_else_cannot_see_or_withdraw_a_case(world: CaseWorld) -> None:
    dave = await world.person("dave")
    erin = await world.person("erin")
    ref = await intake(world, dave)
    assert "no case" in (await world.say(erin, f"!case withdraw {ref}")).text()
    assert "no case" in (await world.say(erin, f"!case show {ref}")).text()


async def test_a_case_sent_for_an_event_counts_as_sent_in_advance_for_the_questions_reminder(
        world: CaseWorld) -> None:
    """The event asks for questions and cases by 10 April 12:00: a day before, only the
    registrant who sent nothing is reminded; the one who brought a case for it is not."""
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, mode="auto", extra="\nquestions by: 2025-04-10 12:00")
    alice, dave = await world.person("alice"), await world.person("dave")
    for who in (alice, dave):
        await world.say(who, f"!register {slug}")
    await intake(world, dave, event="1")
    assert (await cases_rows(world))[0].event_id is not None
    world.clock.now = datetime(2025, 4, 9, 10, 0, tzinfo=timezone.utc)  # 12:00 in Amsterdam, a day before
    said = await world.run_due(runner(world))
    assert [s.user_id for s in said if "collected in advance" in s.body] == [alice]


# ---- retention and rights ----------------------------------------------------------------------

async def test_the_sweep_warns_then_purges_unscheduled_cases_and_says_only_how_many(world: CaseWorld) -> None:
    await world.person("carol", "coordinator")
    dave = await world.person("dave")
    await intake(world, dave, title="MARKER-T", pdf=PDF)
    world.clock.advance(days=174)
    warned = await world.run_due(runner(world))
    [warning] = warned.to_user(dave)
    assert "will be erased on" in warning.body
    assert warned.to_room(CONTROL) == []
    world.clock.advance(days=7)
    purged = await world.run_due(runner(world))
    [told] = purged.to_room(CONTROL)
    assert "1 case has reached the end" in told.body and "MARKER" not in told.body and "c" not in told.body.split()[0]
    [row] = await cases_rows(world)
    assert (row.state, row.title, row.file_handle) == ("purged", None, None)
    assert world.vault.handles() == []


async def test_an_agreed_case_is_purged_after_its_session(world: CaseWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, mode="auto")
    await split(world, carol, slug, await world.people(2))
    dave = await world.person("dave")
    ref = await intake(world, dave)
    await world.say(carol, f"!case assign {ref} {slug}/1", room=CONTROL)
    await world.say(dave, f"!agree {ref}")
    world.clock.advance(days=35 + 30)  # the event is 2025-04-14; 30 days after it ends
    assert (await cases_rows(world))[0].state == "agreed"
    world.clock.advance(days=2)
    await world.run_due(runner(world))
    assert (await cases_rows(world))[0].state == "purged"


async def test_mydata_has_the_cases_in_full_and_forgetme_erases_them_and_redacts_posts(world: CaseWorld) -> None:
    import json

    await world.person("carol", "coordinator")
    dave = await world.person("dave")
    ref = await intake(world, dave, title="MARKER-T", text="MARKER-X", pdf=PDF)
    said = await world.say(dave, "!mydata")
    data = json.loads(said.files()[0].file_bytes())
    [mine] = data["cases"]
    assert (mine["id"], mine["title"], mine["text"], mine["file"]["name"]) == (ref, "MARKER-T", "MARKER-X", "case.pdf")
    await world.say(dave, "!forgetme")
    await world.say(dave, "!confirm")
    assert await cases_rows(world) == []
    assert world.vault.handles() == []


async def test_withdrawing_an_agreed_case_redacts_what_reached_the_session_room(world: CaseWorld) -> None:
    from storage import outbox
    from storage.models import OutboxItem

    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, mode="auto")
    await split(world, carol, slug, await world.people(2))
    await open_first_room(world)
    dave = await world.person("dave")
    ref = await intake(world, dave, title="MARKER-T", pdf=PDF)
    await world.say(carol, f"!case assign {ref} {slug}/1", room=CONTROL)
    await world.say(dave, f"!agree {ref}")
    async with world.db.transaction() as s:  # the outbox sent them: each has its event id
        for i, row in enumerate((await s.execute(select(OutboxItem).where(OutboxItem.done_at.is_(None)))).scalars()):
            await outbox.mark_done(s, row.id, world.clock.now, event_id=f"$sent{i}")
    withdrawn = await world.say(dave, f"!case withdraw {ref}")
    redacted = [s for s in withdrawn if s.kind == "redact"]
    assert len(redacted) == 2 and {s.room_id for s in redacted} == {"!session1:example.org"}, \
        "the title and summary, and the PDF, are redacted from the session's room"


async def test_an_intake_left_half_way_is_forgotten_by_the_sweep(world: CaseWorld) -> None:
    dave = await world.person("dave")
    await world.say(dave, "!case")
    await world.say(dave, "1")
    await world.say(dave, "MARKER-TITLE")
    await world.say(dave, "MARKER-TEXT")
    world.clock.advance(hours=16)  # the conversation ran out (12 h); the daily sweep (03:00 UTC) came
    await world.run_due(runner(world))
    async with world.db.transaction() as s:
        assert (await s.execute(select(Conversation))).first() is None


def test_a_kept_file_comes_back_whole_and_a_changed_one_not_at_all(tmp_path: Path) -> None:
    vault = FileVault(tmp_path / "kept", b"k" * 32, max_bytes=10 << 20)
    source = tmp_path / "in.pdf"
    data = PDF + bytes(range(256)) * 9000  # over one chunk
    source.write_bytes(data)
    handle = vault.keep(source)
    assert not source.exists(), "the plain file is gone once kept"
    out = tmp_path / "out"
    assert vault.decrypt_to(handle, out) == len(data) and out.read_bytes() == data
    stored = vault.folder / f"{handle}.bin"
    raw = bytearray(stored.read_bytes())
    raw[100] ^= 1
    stored.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="MAC check failed"):
        vault.decrypt_to(handle, tmp_path / "changed")
    assert not (tmp_path / "changed").exists()
