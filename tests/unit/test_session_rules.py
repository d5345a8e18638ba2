"""The sessions' pure rules: splitting into groups, late changes, and the method guide's phases,
turns and written rounds (no database, no Matrix)."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest

from api.methods import shipped
from commands.sessions import grouping, methods
from commands.sessions.grouping import Person


def people(n: int, orgs: list[str | None] | None = None) -> list[Person]:
    orgs = orgs or [None]
    return [Person(f"@p{i:03d}:x", orgs[i % len(orgs)]) for i in range(n)]


@pytest.mark.parametrize("total,size", [(1, 10), (10, 10), (11, 10), (25, 12), (300, 12), (29, 15), (7, 3)])
def test_a_split_never_exceeds_the_size_and_sizes_differ_by_at_most_one(total: int, size: int) -> None:
    groups = grouping.split(people(total), size)
    sizes = [len(g.members) for g in groups]
    assert sum(sizes) == total and max(sizes) <= size and max(sizes) - min(sizes) <= 1
    assert len(groups) == -(-total // size), "as few groups as the size allows"
    assert [g.number for g in groups] == list(range(1, len(groups) + 1))
    assert len({m.user_id for g in groups for m in g.members}) == total


def test_members_of_one_organisation_are_spread_over_the_groups() -> None:
    # 24 people, 3 groups of 8; organisation A has 3 people, B 6, the rest none
    crowd = [Person(f"@a{i}:x", "Org A") for i in range(3)] + [Person(f"@b{i}:x", " org b ") for i in range(6)] \
        + [Person(f"@n{i}:x") for i in range(15)]
    groups = grouping.split(crowd, 8)
    for g in groups:
        orgs = Counter(m.org_key for m in g.members if m.org_key)
        assert orgs["org a"] == 1 and orgs["org b"] == 2, (g.number, orgs)


def test_spreading_gives_way_to_the_size_when_one_organisation_is_most_of_the_crowd() -> None:
    crowd = [Person(f"@a{i}:x", "A") for i in range(9)] + [Person("@z:x", "Z")]
    groups = grouping.split(crowd, 5)
    assert sorted(len(g.members) for g in groups) == [5, 5]
    assert sorted(g.colleagues(Person("@q:x", "A")) for g in groups) == [4, 5]


def test_the_same_input_gives_the_same_split() -> None:
    crowd = people(37, ["A", "B", None, "C"])
    first = [[m.user_id for m in g.members] for g in grouping.split(crowd, 10)]
    assert first == [[m.user_id for m in g.members] for g in grouping.split(crowd, 10)]


def test_a_size_below_one_is_refused_and_nobody_makes_no_groups() -> None:
    with pytest.raises(ValueError):
        grouping.split(people(3), 0)
    assert grouping.split([], 5) == []


def test_a_cancelled_member_leaves_and_a_promoted_one_joins_the_smallest_group_with_room() -> None:
    groups = grouping.split(people(10), 4)  # 4, 3, 3
    assert [len(g.members) for g in groups] == [4, 3, 3]
    left = grouping.leave(groups, groups[1].members[0].user_id)
    assert left is groups[1] and [len(g.members) for g in groups] == [4, 2, 3]
    assert grouping.join(groups, Person("@new:x")) is groups[1]
    assert grouping.join(groups, Person("@new:x")) is groups[1], "already in a group: stays"
    assert grouping.join(groups, Person("@n2:x")) is groups[1]
    assert grouping.join(groups, Person("@n3:x")) is groups[2]
    assert [len(g.members) for g in groups] == [4, 4, 4]
    assert grouping.join(groups, Person("@n4:x")) is None, "every group full: nobody is squeezed in"
    assert max(len(g.members) for g in groups) <= 4
    assert grouping.leave(groups, "@nobody:x") is None


def test_a_promoted_member_avoids_colleagues_among_equally_small_groups() -> None:
    groups = [grouping.Group(1, 5, [Person("@a:x", "A")]), grouping.Group(2, 5, [Person("@b:x", "B")])]
    assert grouping.join(groups, Person("@a2:x", "a")).number == 2


def test_a_move_into_a_full_group_is_refused_with_the_reason_and_changes_nothing() -> None:
    groups = grouping.split(people(8), 4)
    mover = groups[0].members[0].user_id
    assert grouping.move(groups, mover, groups[1]) == grouping.FULL
    assert [len(g.members) for g in groups] == [4, 4]
    grouping.leave(groups, groups[1].members[0].user_id)
    assert grouping.move(groups, mover, groups[1]) is None
    assert grouping.find(groups, mover) is groups[1] and [len(g.members) for g in groups] == [3, 4]
    assert grouping.move(groups, mover, groups[1]) == "sessions.move.already"


def test_a_swap_exchanges_two_members_and_keeps_the_sizes() -> None:
    groups = grouping.split(people(6), 3)
    a, b = groups[0].members[1].user_id, groups[1].members[2].user_id
    assert grouping.swap(groups, a, b) is None
    assert grouping.find(groups, a) is groups[1] and grouping.find(groups, b) is groups[0]
    assert [len(g.members) for g in groups] == [3, 3]
    assert grouping.swap(groups, a, groups[1].members[0].user_id) == "sessions.swap.same_group"
    assert grouping.swap(groups, a, "@nobody:x") == "sessions.move.not_in_group"


# ---- methods --------------------------------------------------------------------------------

def all_methods() -> dict[str, methods.Method]:
    return {key: methods.parse(key, raw) for key, raw in shipped().items()}


def test_the_shipped_methods_parse_with_texts_in_every_language() -> None:
    found = all_methods()
    assert {"lon-vp", "incident", "lab"} <= set(found)
    for method in found.values():
        for texts in itertools.chain([method.name, method.description],
                                     *((p.title, p.instruction) for p in method.phases)):
            assert set(texts) == {"en", "nl", "nb"} and all(texts.values()), (method.key, texts)
    lon = found["lon-vp"]
    assert len(lon.phases) == 4
    assert [p.round for p in lon.phases] == [True, True, True, False]
    assert all(p.skip_case_bringer for p in lon.phases[:3])
    incident = found["incident"]
    assert [p.written for p in incident.phases] == [False, True, False, True, False]
    assert methods.text(incident.name, "nl") == "Incidentmethode"
    assert methods.text(incident.name, "fr") == "Incident method", "an unknown language reads English"


def test_a_broken_method_definition_is_refused_with_what_is_wrong() -> None:
    with pytest.raises(methods.MethodError, match="at least one phase"):
        methods.parse("x", {"name": "X", "description": "d", "phases": []})
    with pytest.raises(methods.MethodError, match="minutes must be a positive"):
        methods.parse("x", {"name": "X", "description": "d", "phases": [{"title": "t", "instruction": "i",
                                                                          "minutes": 0}]})
    with pytest.raises(methods.MethodError, match="English"):
        methods.parse("x", {"name": {"nl": "X"}, "description": "d", "phases": [{"title": "t", "instruction": "i"}]})


def test_phases_move_forward_and_back_and_end_after_the_last() -> None:
    lon = all_methods()["lon-vp"]
    at = methods.Progress()
    seen = [at.phase]
    while (nxt := methods.next_phase(lon, at)) is not None:
        at = nxt
        seen.append(at.phase)
    assert seen == [0, 1, 2, 3]
    assert methods.previous_phase(lon, at) == methods.Progress(2)
    assert methods.previous_phase(lon, methods.Progress(0)) is None


def test_turns_follow_the_fixed_order_and_skip_the_case_bringer_where_the_method_says() -> None:
    found = all_methods()
    group = ["@ann:x", "@bob:x", "@cas:x", "@dee:x"]
    lon_round = found["lon-vp"].phases[0]
    order = methods.turn_order(group, lon_round, case_bringer="@bob:x")
    assert order == ["@ann:x", "@cas:x", "@dee:x"]
    at, spoken = methods.Progress(0), []
    while (turn := methods.next_turn(at, order)) is not None:
        spoken.append((turn.speaker, turn.following))
        at = turn.progress
    assert spoken == [("@ann:x", "@cas:x"), ("@cas:x", "@dee:x"), ("@dee:x", None)]
    lab_round = found["lab"].phases[0]
    assert methods.turn_order(group, lab_round, case_bringer="@bob:x") == group, "no skipping in the lab"
    assert methods.turn_order(group, found["lon-vp"].phases[3]) == [], "not a round: no turns"


def test_a_written_round_is_revealed_when_all_have_sent_and_names_only_where_the_method_says() -> None:
    incident = all_methods()["incident"]
    questions, advice = incident.phases[1], incident.phases[3]
    expected = ["@ann:x", "@cas:x", "@dee:x"]
    received = {"@dee:x": "Who else knew?", "@ann:x": "When did it start?"}
    assert methods.waiting_for(expected, received) == ["@cas:x"]
    assert methods.reveal(expected, received, questions) is None, "nothing shown while someone still writes"
    received["@cas:x"] = "and what did you do?"
    assert methods.reveal(expected, received, questions) == [
        ("@ann:x", "When did it start?"), ("@cas:x", "and what did you do?"), ("@dee:x", "Who else knew?")]
    assert methods.reveal(expected, received, advice) == [
        (None, "and what did you do?"), (None, "When did it start?"), (None, "Who else knew?")]
    partial = {"@dee:x": "Talk to HR."}
    assert methods.reveal(expected, partial, advice, force=True) == [(None, "Talk to HR.")], \
        "the facilitator moving on reveals what was sent"
