"""How `!announce` reads its words: [event <id>] [at <time>] [@room] <text>. Pure."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

EVENT_WORDS = frozenset({"event", "bijeenkomst", "arrangement"})
AT_WORDS = frozenset({"at", "op", "om", "på", "kl", "kl.", "klokken"})
ROOM_FLAG = "@room"


@dataclass(frozen=True)
class Asked:
    event: str | None
    when: str | None  # the words of the time, read later on the caller's clock
    room: bool
    text: str


def read(words: str, take_moment: Callable[[str], tuple[str, str] | None]) -> Asked:
    """Split the command's words; `take_moment` finds where a time ends ("in 2h", "morgen 10:00")."""
    rest = words.strip()
    event = None
    head, _, tail = rest.partition(" ")
    if head.lower() in EVENT_WORDS and tail.strip():
        event, _, rest = tail.strip().partition(" ")
        rest = rest.strip()
    when = None
    head, _, tail = rest.partition(" ")
    taken = take_moment(tail.strip()) if head.lower() in AT_WORDS else None
    if taken is None:
        taken = take_moment(rest)  # "in 2h ...", "om 2 timer ...", "tomorrow 10:00 ..."
    if taken is not None:
        when, rest = taken
    head, _, tail = rest.partition(" ")
    room = head.lower() == ROOM_FLAG
    return Asked(event, when, room, (tail if room else rest).strip())
