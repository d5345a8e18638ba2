"""Seat decisions inside the command's transaction: the event row is locked first, then counted,
decided by the rules and written, so a burst of registrations can never overbook.

Functions return `Change`s: what happened to other people (an offer, a promotion) that they must
be told; commands/events/notify.py turns them into DMs and scheduled offer expiries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from commands.events.rules import (ACTIVE, HOLDING, Arrival, Mode, State, Waiter, offer_lapsed, promotions,
                                   recalls, seat_state, workshop_allowed)
from storage import events, registrations as regs
from storage.database import Session as AsyncSession
from storage.models import Event, EventWorkshop, Registration


@dataclass(frozen=True)
class Change:
    # "offered" | "promoted" | "withdrawn" | "lapsed" (an offer ran out) | "recalled" (an offer taken
    # back because the capacity fell) | "seated" / "queued" (a workshop chosen while waiting)
    kind: str
    registration: Registration
    workshop: EventWorkshop | None = None


@dataclass
class Outcome:
    """What `register` did: the event place and, if asked for, the workshop place."""

    main: Registration
    main_new: bool
    main_position: int | None = None
    workshop: Registration | None = None
    workshop_new: bool = False
    workshop_position: int | None = None
    limit_reached: list[EventWorkshop] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _state(row: Registration | None) -> State | None:
    return State(row.state) if row is not None else None


async def register(session: AsyncSession, event: Event, user_id: str, workshop: EventWorkshop | None,
                   arrival: Arrival, now: datetime) -> Outcome:
    """Take a seat or a place on the waiting list. The caller has locked the event row."""
    changes: list[Change] = []
    main = await regs.get(session, event.id, user_id)
    main_new = _state(main) not in ACTIVE
    if main_new:
        state, more = await _decide(session, event, None, now)
        changes += more
        main = await regs.put(session, event_id=event.id, workshop_id=None, user_id=user_id, state=state.value,
                              arrived_at=arrival[0], arrival_event_id=arrival[1], now=now, existing=main)
    outcome = Outcome(main=main, main_new=main_new, changes=changes)
    if main.state == regs.WAITLISTED:
        outcome.main_position = await regs.position(session, main)
    if workshop is None:
        return outcome

    mine = await regs.of_user_in_event(session, event.id, user_id)
    current = next((r for r in mine if r.slot == workshop.id), None)
    if _state(current) in ACTIVE:
        outcome.workshop = current
    else:
        others = [r for r in mine if r.slot not in (0, workshop.id) and _state(r) in ACTIVE]
        if not workshop_allowed(len(others), event.workshops_per_member):
            by_id = {w.id: w for w in await events.workshops(session, event.id)}
            outcome.limit_reached = [by_id[r.slot] for r in others if r.slot in by_id]
            return outcome
        if main.state == regs.CONFIRMED:
            state, more = await _decide(session, event, workshop, now)
            changes += more
        else:
            state = State.PENDING  # kept until the member has a seat at the event itself
        outcome.workshop = await regs.put(session, event_id=event.id, workshop_id=workshop.id, user_id=user_id,
                                          state=state.value, arrived_at=arrival[0], arrival_event_id=arrival[1],
                                          now=now, existing=current)
        outcome.workshop_new = True
    if outcome.workshop.state == regs.WAITLISTED:
        outcome.workshop_position = await regs.position(session, outcome.workshop)
    return outcome


async def _decide(session: AsyncSession, event: Event, workshop: EventWorkshop | None,
                  now: datetime) -> tuple[State, list[Change]]:
    """A newcomer's state in one queue. A seat that freed up while people wait goes to them first."""
    capacity = workshop.capacity if workshop else event.capacity
    taken, waiting = await regs.queue_counts(session, event.id, workshop.id if workshop else 0)
    changes: list[Change] = []
    if taken < capacity and waiting:
        changes = await fill(session, event, workshop, now)
        taken, waiting = await regs.queue_counts(session, event.id, workshop.id if workshop else 0)
    return seat_state(capacity, taken, waiting), changes


async def fill(session: AsyncSession, event: Event, workshop: EventWorkshop | None, now: datetime) -> list[Change]:
    """Give free seats of one queue to the first waiting, in arrival order (offer or auto)."""
    slot = workshop.id if workshop else 0
    capacity = workshop.capacity if workshop else event.capacity
    taken = await regs.holding(session, event.id, slot)
    if taken >= capacity:
        return []
    waiting = await regs.waiting(session, event.id, slot)
    rows = {r.id: r for r in waiting}
    decided = promotions(Mode(event.waitlist_mode), capacity, taken, _waiters(waiting), now, event.offer_hours,
                         event.starts_at)
    changes: list[Change] = []
    for p in decided:
        row = rows[p.registration_id]
        regs.set_state(row, p.state.value, now, offer_expires_at=p.offer_expires_at)
        if p.state is State.OFFERED:
            changes.append(Change("offered", row, workshop))
        else:
            changes.append(Change("promoted", row, workshop))
            if workshop is None:
                changes += await seat_pending_workshops(session, event, row.user_id, now)
    await session.flush()
    return changes


async def seat_pending_workshops(session: AsyncSession, event: Event, user_id: str, now: datetime) -> list[Change]:
    """The member now has a seat at the event: each workshop they chose while waiting gives them a
    seat if one is free, else a place on its waiting list by their original arrival."""
    changes: list[Change] = []
    by_id = {w.id: w for w in await events.workshops(session, event.id)}
    for row in await regs.of_user_in_event(session, event.id, user_id):
        if row.state != regs.PENDING or row.slot not in by_id:
            continue
        workshop = by_id[row.slot]
        if await regs.holding(session, event.id, workshop.id) < workshop.capacity:
            regs.set_state(row, regs.CONFIRMED, now)
            changes.append(Change("seated", row, workshop))
        else:
            regs.set_state(row, regs.WAITLISTED, now)
            changes.append(Change("queued", row, workshop))
        await session.flush()
    return changes


async def accept(session: AsyncSession, event: Event, row: Registration, now: datetime) -> list[Change]:
    """An open offer taken up: the seat is confirmed (and pending workshop choices are seated)."""
    regs.set_state(row, regs.CONFIRMED, now)
    changes = [Change("withdrawn", row)]
    if row.slot == 0:
        changes += await seat_pending_workshops(session, event, row.user_id, now)
    await session.flush()
    return changes


async def give_up(session: AsyncSession, event: Event, row: Registration, state: str, now: datetime) -> list[Change]:
    """Cancel, decline or let an offer lapse: the place ends, freed seats go to the next in line.
    Giving up the event itself also gives up its workshops."""
    ending = [row]
    if row.slot == 0:
        ending += [r for r in await regs.of_user_in_event(session, event.id, row.user_id)
                   if r.slot != 0 and _state(r) in ACTIVE]
    changes: list[Change] = []
    freed: set[int] = set()
    for r in ending:
        if _state(r) in HOLDING:
            freed.add(r.slot)
        if r.state == regs.OFFERED:
            changes.append(Change("withdrawn", r))
        regs.set_state(r, state if r is row else regs.CANCELLED, now)
    await session.flush()
    by_id = {w.id: w for w in await events.workshops(session, event.id)}
    for slot in sorted(freed):
        if slot == 0:
            changes += await fill(session, event, None, now)
        elif slot in by_id:
            changes += await fill(session, event, by_id[slot], now)
    return changes


def _waiters(rows: list[Registration]) -> list[Waiter]:
    return [Waiter(r.id, (r.arrived_at, r.arrival_event_id)) for r in rows]


async def _offered(session: AsyncSession, event: Event, slot: int) -> list[Registration]:
    return [r for r in await regs.of_event(session, event.id, [regs.OFFERED]) if r.slot == slot]


async def recall_excess(session: AsyncSession, event: Event, workshop: EventWorkshop | None,
                        now: datetime) -> list[Change]:
    """The capacity of one queue fell below the seats taken: confirmed seats stay, open offers
    beyond the capacity go back (latest in line first) and those people wait again at their place."""
    slot = workshop.id if workshop else 0
    capacity = workshop.capacity if workshop else event.capacity
    offered = await _offered(session, event, slot)
    back = set(recalls(capacity, await regs.holding(session, event.id, slot), _waiters(offered)))
    changes = []
    for row in offered:
        if row.id in back:
            regs.set_state(row, regs.WAITLISTED, now)
            changes.append(Change("recalled", row, workshop))
    await session.flush()
    return changes


async def fill_all(session: AsyncSession, event: Event, now: datetime) -> list[Change]:
    """After a capacity change: every queue of the event, offers over a lowered capacity recalled
    first, then free seats given to the waiting."""
    queues: list[EventWorkshop | None] = [None, *await events.workshops(session, event.id)]
    changes: list[Change] = []
    for workshop in queues:
        changes += await recall_excess(session, event, workshop, now)
        changes += await fill(session, event, workshop, now)
    return changes


async def preview(session: AsyncSession, event: Event, capacities: dict[int, int], *, mode: Mode,
                  offer_hours: int, starts_at: datetime, now: datetime) -> tuple[set[str], set[str]]:
    """Whom new capacities (slot -> seats) would move, by the rules fill_all follows, changing
    nothing: (moved up from a waiting list, open offers recalled)."""
    up: set[str] = set()
    back: set[str] = set()
    for slot, capacity in capacities.items():
        taken = await regs.holding(session, event.id, slot)
        waiting = await regs.waiting(session, event.id, slot)
        by_id = {r.id: r.user_id for r in waiting}
        up |= {by_id[p.registration_id] for p in promotions(mode, capacity, taken, _waiters(waiting), now,
                                                            offer_hours, starts_at)}
        offered = await _offered(session, event, slot)
        by_id = {r.id: r.user_id for r in offered}
        back |= {by_id[i] for i in recalls(capacity, taken, _waiters(offered))}
    return up, back


async def expire_lapsed(session: AsyncSession, event: Event, now: datetime) -> list[Change]:
    """Every open offer of the event whose deadline has passed ends now and its seat goes on.

    An offer normally ends by its scheduled job; but when the bot was down for longer than the
    schedule's catch-up window, that job is marked missed and never runs, and the offer would hold
    its seat forever. So the job and every command that decides seats (or shows them) call this
    first. The caller has locked the event row."""
    changes: list[Change] = []
    by_id: dict[int, EventWorkshop] | None = None
    for row in await regs.of_event(session, event.id, [regs.OFFERED]):
        # an earlier give_up in this loop may have ended the row already (the event place ends its workshops)
        if row.state != regs.OFFERED or not offer_lapsed(State(row.state), row.offer_expires_at, now):
            continue
        if by_id is None:
            by_id = {w.id: w for w in await events.workshops(session, event.id)}
        changes.append(Change("lapsed", row, by_id.get(row.slot)))
        changes += await give_up(session, event, row, regs.EXPIRED, now)
    return changes
