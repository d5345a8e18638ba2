"""Splitting an event's confirmed registrants into closed groups, and keeping the groups right as
registrations change. Pure decisions: values in, decisions out, no I/O (tested without Matrix).

A split makes ceil(n / size) groups whose sizes differ by at most one, and spreads the members of
one organisation (`!org`) over different groups where it can: the largest organisations are
dealt out first, each person to the group with room that holds the fewest of their colleagues
(then the fewest people, then the lowest number), so the result is the same for the same input."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

FULL = "sessions.move.full"  # the catalogue key of a refused move


@dataclass(frozen=True)
class Person:
    user_id: str
    organisation: str | None = None

    @property
    def org_key(self) -> str | None:
        """Organisations compare without case or surrounding spaces; none means no colleagues."""
        return self.organisation.strip().casefold() or None if self.organisation else None


@dataclass
class Group:
    number: int
    size: int
    members: list[Person] = field(default_factory=list)

    @property
    def room(self) -> int:
        return self.size - len(self.members)

    def colleagues(self, person: Person) -> int:
        key = person.org_key
        return 0 if key is None else sum(1 for m in self.members if m.org_key == key)


def group_sizes(total: int, size: int) -> list[int]:
    """How many people each group gets: as few groups as the size allows, as even as possible."""
    if size < 1:
        raise ValueError("a group has room for at least one person")
    if total <= 0:
        return []
    count = -(-total // size)
    base, extra = divmod(total, count)
    return [base + 1 if i < extra else base for i in range(count)]


def split(people: Sequence[Person], size: int) -> list[Group]:
    """The proposal: groups numbered from 1, each at most `size`, sizes differing by at most one."""
    targets = group_sizes(len(people), size)
    groups = [Group(i + 1, size) for i in range(len(targets))]
    orgs = Counter(p.org_key for p in people if p.org_key is not None)
    # largest organisations first (ties by name), then everyone without one, each in the given order
    order = sorted(range(len(people)), key=lambda i: (-orgs.get(people[i].org_key, 0),
                                                      people[i].org_key or "\uffff", i))
    for i in order:
        person = people[i]
        open_ = [g for g, target in zip(groups, targets) if len(g.members) < target]
        best = min(open_, key=lambda g: (g.colleagues(person), len(g.members), g.number))
        best.members.append(person)
    return groups


def find(groups: Sequence[Group], user_id: str) -> Group | None:
    return next((g for g in groups if any(m.user_id == user_id for m in g.members)), None)


def leave(groups: Sequence[Group], user_id: str) -> Group | None:
    """A cancelled member leaves their group; returns the group they left (None: in none)."""
    group = find(groups, user_id)
    if group is not None:
        group.members = [m for m in group.members if m.user_id != user_id]
    return group


def join(groups: Sequence[Group], person: Person) -> Group | None:
    """A member promoted from the waiting list joins the smallest group with room (fewest
    colleagues first among equals, then the lowest number); None when every group is full.
    Someone already in a group stays there."""
    current = find(groups, person.user_id)
    if current is not None:
        return current
    open_ = [g for g in groups if g.room > 0]
    if not open_:
        return None
    best = min(open_, key=lambda g: (len(g.members), g.colleagues(person), g.number))
    best.members.append(person)
    return best


def move_problem(target: Group, user_id: str) -> str | None:
    """Why moving this person into `target` is refused (a catalogue key), or None when it may."""
    if any(m.user_id == user_id for m in target.members):
        return "sessions.move.already"
    if target.room <= 0:
        return FULL
    return None


def move(groups: Sequence[Group], user_id: str, target: Group) -> str | None:
    """Move a member into `target`; returns the reason it is refused, else None (moved)."""
    problem = move_problem(target, user_id)
    if problem:
        return problem
    source = find(groups, user_id)
    if source is None:
        return "sessions.move.not_in_group"
    person = next(m for m in source.members if m.user_id == user_id)
    source.members.remove(person)
    target.members.append(person)
    return None


def swap(groups: Sequence[Group], a: str, b: str) -> str | None:
    """Exchange two members of different groups (sizes stay); the reason it is refused, else None."""
    ga, gb = find(groups, a), find(groups, b)
    if ga is None or gb is None:
        return "sessions.move.not_in_group"
    if ga is gb:
        return "sessions.swap.same_group"
    pa = next(m for m in ga.members if m.user_id == a)
    pb = next(m for m in gb.members if m.user_id == b)
    ga.members[ga.members.index(pa)] = pb
    gb.members[gb.members.index(pb)] = pa
    return None
