"""Pure decisions about seats, waiting lists and offers. Standard library only; `now` is an argument.

A *queue* is the list of registrations for one capacity: the event itself, or one of its workshops.
A seat is taken by a confirmed registration or by an open offer; everyone else active waits, in
arrival order (the command's server timestamp, then its event id).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


class State(str, enum.Enum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"
    PENDING = "pending"  # a workshop choice kept while the member waits for the event itself
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"


class Mode(str, enum.Enum):
    OFFER = "offer"
    AUTO = "auto"


class EventState(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


HOLDING = frozenset({State.CONFIRMED, State.OFFERED})
ACTIVE = frozenset({State.CONFIRMED, State.OFFERED, State.WAITLISTED, State.PENDING})

Arrival = tuple[datetime, str]


@dataclass(frozen=True)
class Waiter:
    registration_id: int
    arrival: Arrival


@dataclass(frozen=True)
class Promotion:
    registration_id: int
    state: State
    offer_expires_at: datetime | None


def seat_state(capacity: int, holding: int, waiting: int) -> State:
    """A newcomer gets a seat only if one is free and nobody is already waiting for it."""
    return State.CONFIRMED if holding < capacity and waiting == 0 else State.WAITLISTED


def position(arrival: Arrival, waiting: Iterable[Arrival]) -> int:
    """1-based place on the waiting list: how many arrived before, plus one."""
    return 1 + sum(1 for other in waiting if other < arrival)


def promotions(mode: Mode, capacity: int, holding: int, waiting: Sequence[Waiter], now: datetime,
               offer_hours: int, starts_at: datetime | None = None) -> list[Promotion]:
    """Who moves up when seats are free: the first in arrival order, confirmed (auto) or offered.
    Nobody moves up once the event has started, and an offer never outlives the start."""
    if starts_at is not None and now >= starts_at:
        return []
    free = max(0, capacity - holding)
    chosen = sorted(waiting, key=lambda w: w.arrival)[:free]
    if mode is Mode.AUTO:
        return [Promotion(w.registration_id, State.CONFIRMED, None) for w in chosen]
    expires = now + timedelta(hours=offer_hours)
    if starts_at is not None:
        expires = min(expires, starts_at)
    return [Promotion(w.registration_id, State.OFFERED, expires) for w in chosen]


def recalls(capacity: int, holding: int, offered: Sequence[Waiter]) -> list[int]:
    """After the capacity fell below the seats taken: the open offers that go back, latest in line
    first. Confirmed seats are never taken away, so fewer may go back than the excess."""
    excess = max(0, holding - capacity)
    latest_first = sorted(offered, key=lambda w: w.arrival, reverse=True)
    return [w.registration_id for w in latest_first[:excess]]


def offer_lapsed(state: State, expires_at: datetime | None, now: datetime) -> bool:
    return state is State.OFFERED and expires_at is not None and expires_at <= now


def registration_problem(*, event_state: EventState, now: datetime, closes_at: datetime, ends_at: datetime,
                         rules_accepted: bool, invite_only: bool, invited: bool) -> str | None:
    """The catalogue key saying why this member may not register now, or None if they may."""
    if event_state is EventState.CANCELLED:
        return "events.register.cancelled"
    if event_state is not EventState.PUBLISHED:
        return "events.register.not_published"
    if now >= ends_at:
        return "events.register.over"
    if now >= closes_at:
        return "events.register.closed"
    if invite_only and not invited:
        return "events.register.invite_only"
    if not rules_accepted:
        return "events.register.rules"
    return None


def workshop_allowed(held_elsewhere: int, per_member: int) -> bool:
    """A member holds (or waits for) at most `per_member` workshops of one event."""
    return held_elsewhere < per_member


def seats_left(capacity: int, holding: int) -> int:
    return max(0, capacity - holding)
