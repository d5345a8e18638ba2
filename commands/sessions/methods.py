"""Methods that guide a session phase by phase, and the progression through them: phases
forward and back, turns in a fixed order (skipping the case-bringer where the method says), and
written rounds revealed together once everyone has sent. Pure: the methods are read and checked
by api/methods.py; this module decides, without I/O."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.methods import Method, MethodError, Phase, Texts, parse, text

__all__ = ["Method", "MethodError", "Phase", "Progress", "Texts", "Turn", "next_phase", "next_turn", "parse",
           "previous_phase", "reveal", "text", "turn_order", "waiting_for"]


@dataclass(frozen=True)
class Progress:
    """Where a session is: the phase's index, and in a round the index of who speaks (None:
    no turn given yet in this phase)."""

    phase: int = 0
    turn: int | None = None


def turn_order(participants: Sequence[str], phase: Phase, case_bringer: str | None = None) -> list[str]:
    """Who gets a turn in a round, in the session's fixed order; the case-bringer is left out
    where the phase says so. Not a round: nobody."""
    if not phase.round:
        return []
    return [p for p in participants if not (phase.skip_case_bringer and p == case_bringer)]


def next_phase(method: Method, at: Progress) -> Progress | None:
    """The next phase with no turn given yet; None after the last (the method is done)."""
    return Progress(at.phase + 1) if at.phase + 1 < len(method.phases) else None


def previous_phase(method: Method, at: Progress) -> Progress | None:
    """The phase before, started afresh; None in the first."""
    return Progress(at.phase - 1) if at.phase > 0 else None


@dataclass(frozen=True)
class Turn:
    progress: Progress
    speaker: str
    following: str | None  # who is next, None when this is the last turn


def next_turn(at: Progress, order: Sequence[str]) -> Turn | None:
    """The next speaker of the round and who follows; None when everyone has had their turn
    (or the phase is not a round)."""
    index = 0 if at.turn is None else at.turn + 1
    if index >= len(order):
        return None
    following = order[index + 1] if index + 1 < len(order) else None
    return Turn(Progress(at.phase, index), order[index], following)


def waiting_for(expected: Sequence[str], received: Mapping[str, str]) -> list[str]:
    """Who has not sent their contribution to a written round yet, in the fixed order."""
    return [p for p in expected if p not in received]


def reveal(expected: Sequence[str], received: Mapping[str, str], phase: Phase, *,
           force: bool = False) -> list[tuple[str | None, str]] | None:
    """The written round's contributions to show all together: None while someone still has to
    send (unless the facilitator moves on: `force`). With names: in the fixed order, each with its
    author; without names: sorted by their text, so the order gives nobody away."""
    if waiting_for(expected, received) and not force:
        return None
    sent = [(p, received[p]) for p in expected if p in received]
    if phase.names_shown:
        return [(p, t) for p, t in sent]
    return sorted(((None, t) for _p, t in sent), key=lambda item: item[1].casefold())
