"""Closed groups through the real Dispatcher and SQLite: a coordinator splits an event's confirmed
participants (proposal first, applied on !confirm), adjusts by hand, names facilitators, and the
groups follow later registrations (a cancellation leaves, a promotion joins the smallest group)."""
from __future__ import annotations

import re

import pytest

from storage import privacy
from storage.database import Database
from tests.unit.event_world import CONTROL, LOBBY, EventWorld
from tests.unit.helpers import FakeClock


@pytest.fixture
async def world(db: Database, make_dispatcher, clock: FakeClock) -> EventWorld:
    return await EventWorld(db, make_dispatcher(), clock).setup()


async def split_world(world: EventWorld, count: int = 7, *, capacity: int = 10, mode: str = "auto",
                      orgs: dict[int, str] | None = None) -> tuple[str, str, list[str]]:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=capacity, mode=mode)
    people = await world.people(count)
    for i, user in enumerate(people):
        if orgs and i in orgs:
            await world.say(user, f"!org {orgs[i]}")
        await world.say(user, f"!register {slug}")
    return carol, slug, people


def groups_in(text: str) -> dict[int, list[str]]:
    """Group number -> the Matrix IDs listed on its line."""
    return {int(n): re.findall(r"@m\d+:example\.org", rest) for n, rest in re.findall(r"Group (\d+) \(([^\n]*)", text)}


async def test_a_split_is_proposed_then_applied_on_confirm_with_organisations_spread(world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 7, orgs={0: "Acme", 1: "Acme", 2: "Acme", 3: "Bolt"})
    assert "not split into groups yet" in (await world.say(carol, f"!sessions {slug}")).text()
    proposal = (await world.say(carol, f"!groups {slug} size=3")).text()
    assert "7 confirmed participants in 3 groups of at most 3" in proposal
    assert "!confirm" in proposal
    found = groups_in(proposal)
    assert sorted(len(v) for v in found.values()) == [2, 2, 3]
    acme = {people[0], people[1], people[2]}
    assert all(len(acme & set(members)) == 1 for members in found.values()), "one Acme colleague per group"
    assert "(Acme)" in proposal, "the proposal shows organisations"
    assert "not split into groups yet" in (await world.say(carol, f"!sessions {slug}")).text(), \
        "nothing changes before !confirm"
    done = (await world.say(carol, "!confirm")).text()
    assert "is split into 3 groups" in done
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/1: 3 of 3 people; facilitator: not named yet; room: not opened yet" in listing
    assert f"{slug}/3: 2 of 3 people" in listing
    assert "@m0" not in listing, "the overview names no participants"


async def test_splitting_again_shows_the_groups_and_changes_nothing_unless_asked(world: EventWorld) -> None:
    carol, slug, _people = await split_world(world, 5)
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(carol, "!confirm")
    again = (await world.say(carol, f"!groups {slug} size=5")).text()
    assert "already split into these groups" in again and "Nothing was changed" in again
    assert f"!groups {slug} size=5 anew" in again
    assert "!confirm" not in again
    assert f"{slug}/3: 1 of 2" in (await world.say(carol, f"!sessions {slug}")).text()
    asked = (await world.say(carol, f"!groups {slug} size=5 anew")).text()
    assert "5 confirmed participants in 1 group of at most 5." in asked
    await world.say(carol, "!confirm")
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/1: 5 of 5 people" in listing and f"{slug}/2" not in listing


async def test_a_proposal_is_applied_only_as_shown(world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 5)
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(people[4], f"!cancel {slug}")
    refused = (await world.say(carol, "!confirm")).text()
    assert "changed after I showed the proposal" in refused and f"!groups {slug} size=2" in refused
    assert "not split into groups yet" in (await world.say(carol, f"!sessions {slug}")).text()
    shown = groups_in((await world.say(carol, f"!groups {slug} size=2")).text())
    await world.say(carol, "!confirm")
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert sorted(len(v) for v in shown.values()) == [2, 2]
    assert f"{slug}/1: 2 of 2 people" in listing and f"{slug}/2: 2 of 2 people" in listing and f"{slug}/3" not in listing


async def test_bad_input_and_wrong_people_or_places_get_a_clear_answer(world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 3)
    assert "how many people a group may have" in (await world.say(carol, f"!groups {slug}")).text()
    assert "whole number from 1 to 1,000, not \"zero\"" in (await world.say(carol, f"!groups {slug} size=zero")).text()
    assert "Only a coordinator" in (await world.say(people[0], f"!groups {slug} size=2")).text()
    in_lobby = (await world.say(carol, f"!groups {slug} size=2", room=LOBBY))
    assert "@m0" not in in_lobby.text() and "direct message" in in_lobby.text()
    assert "Group 1" in (await world.say(carol, f"!groups {slug} size=2", room=CONTROL)).text()
    empty = await world.create(carol, capacity=3)
    assert "Nobody has a confirmed seat" in (await world.say(carol, f"!groups {empty} size=2")).text()
    assert "is not a session" in (await world.say(carol, f"!facilitate {slug} {people[0]}")).text()


async def test_a_move_into_a_full_group_is_refused_with_the_reason_and_a_move_with_room_is_told(
        world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 5)
    await world.say(carol, f"!groups {slug} size=3")  # 3 + 2
    await world.say(carol, "!confirm")
    shown = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    mover = shown[2][0]
    refused = (await world.say(carol, f"!group move {mover} {slug}/1")).text()
    assert f"{slug}/1 is full (3 people)" in refused and "was not moved" in refused
    assert f"{slug}/1: 3 of 3" in (await world.say(carol, f"!sessions {slug}")).text()
    back = shown[1][0]
    said = await world.say(carol, f"!group move {back} {slug}/2")
    assert f"{back} is now in {slug}/2" in said.text()
    assert any(f"moved you to group {slug}/2" in s.body for s in said.to_user(back))
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/1: 2 of 3" in listing and f"{slug}/2: 3 of 3" in listing
    assert "already in" in (await world.say(carol, f"!group move {back} {slug}/2")).text()
    assert "no session" in (await world.say(carol, f"!group move {back} {slug}/9")).text()


async def test_a_swap_exchanges_two_people_and_tells_both(world: EventWorld) -> None:
    carol, slug, _people = await split_world(world, 4)
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(carol, "!confirm")
    shown = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    a, b = shown[1][0], shown[2][1]
    said = await world.say(carol, f"!group swap {a} {b}")
    assert f"{a} is now in {slug}/2, {b} in {slug}/1" in said.text()
    assert said.to_user(a) and said.to_user(b)
    after = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    assert a in after[2] and b in after[1] and len(after[1]) == len(after[2]) == 2
    assert "same group" in (await world.say(carol, f"!group swap {a} {after[2][0] if after[2][0] != a else after[2][1]}")).text()


async def test_a_facilitator_is_named_for_one_session_and_told(world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 4)
    await world.say(carol, f"!groups {slug} size=2")
    await world.say(carol, "!confirm")
    fran = await world.person("fran")
    said = await world.say(carol, f"!facilitate {slug}/2 {fran}")
    assert f"{fran} now facilitates {slug}/2" in said.text()
    assert any("asked to facilitate session" in s.body for s in said.to_user(fran))
    listing = (await world.say(people[0], f"!sessions {slug}")).text()
    assert f"{slug}/2: 2 of 2 people; facilitator: {fran}" in listing
    assert f"{slug}/1: 2 of 2 people; facilitator: not named yet" in listing
    assert "Only a coordinator" in (await world.say(people[0], f"!facilitate {slug}/1 {fran}")).text()


async def test_after_the_split_a_cancellation_leaves_and_a_promotion_joins_the_smallest_group(
        world: EventWorld) -> None:
    carol, slug, people = await split_world(world, 8, capacity=5, mode="auto")  # 5 seated, 3 waiting
    await world.say(carol, f"!groups {slug} size=3")  # 3 + 2
    await world.say(carol, "!confirm")
    shown = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    assert sorted(len(v) for v in shown.values()) == [2, 3]
    small = 1 if len(shown[1]) == 2 else 2
    leaver = shown[small][0]
    said = await world.say(leaver, f"!cancel {slug}")
    promoted = people[5]
    assert any(f"placed you in group {slug}/{small}" in s.body for s in said.to_user(promoted))
    after = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    assert leaver not in after[1] + after[2]
    assert promoted in after[small] and sorted(len(v) for v in after.values()) == [2, 3]
    # two more seats: one fills the last place, the other finds every group full and the
    # coordinators' room hears of it; no group grows beyond its size
    asked = await world.say(carol, f"!event edit {slug}\ncapacity: 7")
    assert "!confirm" in asked.text(), asked.text()
    said = await world.say(carol, "!confirm")
    assert any(f"placed you in group {slug}/" in s.body for s in said.to_user(people[6]))
    warned = said.to_room(CONTROL)
    assert warned and f"{people[7]} now has a seat" in warned[0].body and "every group is full" in warned[0].body
    final = groups_in((await world.say(carol, f"!groups {slug}")).text().replace(f"{slug}/", "Group "))
    assert sorted(len(v) for v in final.values()) == [3, 3] and people[7] not in final[1] + final[2]
    said = await world.say(carol, f"!group move {people[7]} {slug}/1")
    assert f"{slug}/1 is full (3 people)" in said.text()


async def test_groups_are_in_mydata_and_forgetme_takes_the_person_out(world: EventWorld, db: Database) -> None:
    carol, slug, people = await split_world(world, 3)
    await world.say(carol, f"!groups {slug} size=3")
    await world.say(carol, "!confirm")
    fran = await world.person("fran")
    await world.say(carol, f"!facilitate {slug}/1 {fran}")
    async with db.transaction() as s:
        data = await privacy.export(s, people[0])
        led = await privacy.export(s, fran)
    assert data["sessions"]["groups"] == [{"event": slug, "workshop_id": None, "group": 1, "role": "participant"}]
    assert led["sessions"]["groups"] == [{"event": slug, "workshop_id": None, "group": 1, "role": "facilitator"}]
    async with db.transaction() as s:
        await privacy.erase(s, fran, world.clock.now)
    await world.say(people[0], "!forgetme")
    await world.say(people[0], "!confirm")
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/1: 2 of 3 people; facilitator: not named yet" in listing


async def test_a_workshop_is_split_on_its_own_and_its_groups_follow_cancellations(world: EventWorld) -> None:
    carol = await world.person("carol", "coordinator")
    slug = await world.create(carol, capacity=10, extra="\nworkshops:\nCase clinic | 4\nPolicy lab | 4")
    people = await world.people(5)
    for user in people[:4]:
        await world.say(user, f"!register {slug} case-clinic")
    await world.say(people[4], f"!register {slug} policy-lab")
    proposal = (await world.say(carol, f"!groups {slug} case-clinic size=2")).text()
    assert "Proposal for workshop Case clinic of Theme meeting on alcohol at work: 4 confirmed participants" in proposal
    assert people[4] not in proposal, "only the workshop's participants"
    await world.say(carol, "!confirm")
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/case-clinic/1: 2 of 2 people" in listing and f"{slug}/case-clinic/2: 2 of 2 people" in listing
    assert f"{slug}/1:" not in listing, "the event itself is not split"
    shown = groups_in((await world.say(carol, f"!groups {slug} case-clinic")).text()
                      .replace(f"{slug}/case-clinic/", "Group "))
    await world.say(shown[2][0], f"!cancel {slug}")  # the event place ends, and with it the workshop's
    listing = (await world.say(carol, f"!sessions {slug}")).text()
    assert f"{slug}/case-clinic/2: 1 of 2 people" in listing
    said = await world.say(carol, f"!group move {shown[1][0]} {slug}/case-clinic/2")
    assert f"is now in {slug}/case-clinic/2" in said.text()
    assert "is not a session" in (await world.say(carol, f"!group move {shown[1][0]} {slug}/x/y/2")).text()
