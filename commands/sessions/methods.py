"""Methods that guide a session phase by phase, and the progression through them: phases
forward and back, turns in a fixed order (skipping the case-bringer where the method says), and
written rounds revealed together once everyone has sent. Pure: the YAML is read by
api/methods.py; this module turns its plain values into a Method and decides, without I/O."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Texts = Mapping[str, str]  # language code -> text; English is always there


def text(texts: Texts, language: str | None) -> str:
    return texts.get(language or "en") or texts["en"]


@dataclass(frozen=True)
class Phase:
    title: Texts
    instruction: Texts
    minutes: int | None = None
    round: bool = False  # every participant gets a turn
    skip_case_bringer: bool = False
    written: bool = False  # contributions come by DM and are revealed together
    names_shown: bool = True  # in a written round: whose contribution is whose


@dataclass(frozen=True)
class Method:
    key: str
    name: Texts
    description: Texts
    phases: tuple[Phase, ...]


class MethodError(ValueError):
    """A method definition that cannot be used; the message says which and why."""


def _texts(raw: object, where: str) -> Texts:
    if isinstance(raw, str):
        raw = {"en": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("en"), str) or not raw["en"].strip():
        raise MethodError(f"{where}: needs an English text (en)")
    return {str(k): str(v).strip() for k, v in raw.items()}


def parse(key: str, raw: Mapping[str, object]) -> Method:
    """A Method from its YAML values: name, description, phases (title, instruction, minutes,
    round, skip_case_bringer, written, names_shown)."""
    phases = raw.get("phases")
    if not isinstance(phases, Sequence) or not phases:
        raise MethodError(f"method {key}: needs at least one phase")
    out = []
    for i, p in enumerate(phases, 1):
        if not isinstance(p, Mapping):
            raise MethodError(f"method {key}, phase {i}: must be a mapping")
        minutes = p.get("minutes")
        if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1):
            raise MethodError(f"method {key}, phase {i}: minutes must be a positive whole number")
        flags = {name: p.get(name, default) for name, default in
                 (("round", False), ("skip_case_bringer", False), ("written", False), ("names_shown", True))}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise MethodError(f"method {key}, phase {i}: {name} must be true or false")
        out.append(Phase(title=_texts(p.get("title"), f"method {key}, phase {i} title"),
                         instruction=_texts(p.get("instruction"), f"method {key}, phase {i} instruction"),
                         minutes=minutes, **flags))
    return Method(key=key, name=_texts(raw.get("name"), f"method {key} name"),
                  description=_texts(raw.get("description"), f"method {key} description"), phases=tuple(out))


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
