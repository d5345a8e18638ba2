"""Membership storage on SQLite and PostgreSQL: networks and their rooms, join requests, house
rules, confirmations, and the privacy registry (export and erase)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage import confirmations, direct_rooms, members, networks, outbox, privacy, schedule
from storage.models import Base
from tests.unit.helpers import T0

ALICE = "@alice_x:example.org"


async def _network(session, rules: str = "Be kind.") -> None:  # noqa: ANN001
    await networks.upsert(session, "north", name="North", language="nl", timezone="Europe/Amsterdam",
                          house_rules=rules, auto_approve={"user_ids": [], "domains": []}, now=T0)


async def test_network_rooms_are_recorded_once_per_kind(any_db):
    async with any_db.transaction() as session:
        await _network(session)
        await networks.record_room(session, "north", "lobby", "!a:x", "12", T0)
        await networks.record_room(session, "north", "lobby", "!b:x", "12", T0)  # a replacement
        await networks.record_room(session, "north", "control", "!c:x", "12", T0)
    async with any_db.transaction() as session:
        assert await networks.room_id(session, "north", "lobby") == "!b:x"
        assert await networks.room_id(session, "north", "space") is None
        assert await networks.network_of_room(session, "!c:x") == ("north", "control")
        assert await networks.network_of_room(session, "!a:x") is None
        assert await networks.rooms(session, "north") == {"lobby": "!b:x", "control": "!c:x"}


async def test_join_request_states_and_rules(any_db):
    async with any_db.transaction() as session:
        await _network(session)
        row, before = await members.request_join(session, "north", ALICE, "hello", T0)
        assert (before, row.state, row.role) == ("new", "pending", "member")
        _, before = await members.request_join(session, "north", ALICE, "again", T0)
        assert before == "pending"
        assert await members.active_networks(session, ALICE) == []
        members.set_state(row, members.ACTIVE, T0)
        await session.flush()
        assert await members.active_networks(session, ALICE) == ["north"]
        assert not await members.rules_accepted(session, "north", ALICE)
        members.accept_rules(row, 1, T0)
        await session.flush()
        assert await members.rules_accepted(session, "north", ALICE)
        _, changed = await networks.upsert(session, "north", name="North", language=None, timezone=None,
                                           house_rules="  Be kind.  ", auto_approve={}, now=T0)
        assert not changed, "whitespace is no change"
        network, changed = await networks.upsert(session, "north", name="North", language=None, timezone=None,
                                                 house_rules="Be kind. Be on time.", auto_approve={}, now=T0)
        assert changed and network.rules_version == 2
        assert not await members.rules_accepted(session, "north", ALICE)


async def test_confirmation_is_taken_once_and_expires(any_db):
    async with any_db.transaction() as session:
        await confirmations.ask(session, ALICE, "!dm:x", "privacy.forget", {"n": 1}, T0)
    async with any_db.transaction() as session:
        assert await confirmations.take(session, ALICE, "!dm:x", T0 + timedelta(minutes=9)) == ("privacy.forget", {"n": 1})
        assert await confirmations.take(session, ALICE, "!dm:x", T0) is None
        await confirmations.ask(session, ALICE, "!dm:x", "privacy.forget", {}, T0)
        assert await confirmations.take(session, ALICE, "!dm:x", T0 + timedelta(minutes=10)) is None


async def test_privacy_registry_exports_and_erases_everything(any_db):
    seen: list[str] = []

    async def export_extra(session, user_id):  # noqa: ANN001, ANN202
        return {"extra_for": user_id}

    async def erase_extra(session, user_id, now):  # noqa: ANN001, ANN202
        assert await members.get(session, user_id) is not None, "registered erasers run before the member row goes"
        seen.append(user_id)

    extra_exporters, extra_erasers = {"test_extra": export_extra}, {"test_extra": erase_extra}
    async with any_db.transaction() as session:
        await _network(session)
        row, _ = await members.request_join(session, "north", ALICE, "about me", T0)
        (await members.get(session, ALICE)).display_name = "Alice 100% Zwaan_enburg"
        await direct_rooms.record(session, "!dm:x", ALICE, T0)
        await confirmations.ask(session, ALICE, "!dm:x", "privacy.forget", {}, T0)
        # found by reference: to her DM, or about her (a join request), sent or still waiting
        await outbox.enqueue(session, "message", {"content": {"body": "x"}}, T0, room_id="!dm:x")
        await outbox.enqueue(session, "message", {"content": {"body": f"hi {ALICE}"}}, T0, room_id="!ctl:x",
                             about=ALICE)
        await outbox.enqueue(session, "invite", {"user_id": ALICE}, T0, room_id="!lobby:x", about=ALICE)
        await schedule.put(session, "offer:1:1", "offer", T0, {"registration_id": 1}, T0, about=ALICE)
        # not hers, though it has the same words as her name: never lost to a text search
        kept = await outbox.enqueue(session, "message", {"content": {"body": "Alice 100% Zwaan_enburg"}},
                                    T0, room_id="!lobby:x")
        await schedule.put(session, "offer:2:1", "offer", T0, {"registration_id": 2}, T0, about="@bob:x")
        for item in await outbox.pending(session):
            await outbox.mark_done(session, item.id, T0, event_id=f"$sent{item.id}")
        redact = await outbox.sent_about(session, ALICE)
    assert redact == [("!ctl:x", "$sent2")], "only messages about her are redacted, never a room operation"
    async with any_db.transaction() as session:
        data = await privacy.export(session, ALICE, extra_exporters)
    assert data["profile"]["display_name"] == "Alice 100% Zwaan_enburg"
    assert data["memberships"][0]["note"] == "about me" and data["test_extra"] == {"extra_for": ALICE}
    assert data["conversations"][0]["flow"] == "confirm"
    async with any_db.transaction() as session:
        await privacy.erase(session, ALICE, T0, extra_erasers)
    assert seen == [ALICE]
    async with any_db.transaction() as session:
        dump = []
        for table in Base.metadata.sorted_tables:
            dump += [repr(r) for r in (await session.execute(select(table))).all()]
        remaining = {i.id for i in (await session.execute(select(outbox.OutboxItem))).scalars()}
    text = "\n".join(dump)
    assert ALICE not in text
    assert remaining == {kept.id}
    assert "offer:2:1" in text and "offer:1:1" not in text
