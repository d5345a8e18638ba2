"""The events rules and form, without a database: who gets a seat, who moves up and when, what
the form accepts, and the clear reason it gives when it refuses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from commands.events.form import Known, build, event_slug, split_fields
from commands.events.rules import (EventState, Mode, State, Waiter, offer_lapsed, position, promotions,
                                   registration_problem, seat_state, seats_left, workshop_allowed)

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=timezone.utc)


def at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


# ---- seats and the waiting list ----------------------------------------------------------------

def test_a_free_seat_is_taken_and_a_full_event_waitlists() -> None:
    assert seat_state(capacity=10, holding=9, waiting=0) is State.CONFIRMED
    assert seat_state(capacity=10, holding=10, waiting=0) is State.WAITLISTED


def test_nobody_jumps_the_queue_even_when_a_seat_is_free() -> None:
    assert seat_state(capacity=10, holding=9, waiting=3) is State.WAITLISTED


def test_waiting_list_position_follows_arrival_then_event_id() -> None:
    waiting = [(at(1), "$b"), (at(1), "$a"), (at(0), "$z")]
    assert position((at(0), "$z"), waiting) == 1
    assert position((at(1), "$a"), waiting) == 2
    assert position((at(1), "$b"), waiting) == 3


def test_offer_mode_offers_freed_seats_to_the_first_arrivals_with_a_deadline() -> None:
    waiting = [Waiter(3, (at(5), "$c")), Waiter(1, (at(1), "$a")), Waiter(2, (at(2), "$b"))]
    result = promotions(Mode.OFFER, capacity=10, holding=8, waiting=waiting, now=NOW, offer_hours=24)
    assert [p.registration_id for p in result] == [1, 2]
    assert all(p.state is State.OFFERED and p.offer_expires_at == NOW + timedelta(hours=24) for p in result)


def test_auto_mode_promotes_at_once_without_a_deadline() -> None:
    waiting = [Waiter(7, (at(3), "$x")), Waiter(4, (at(1), "$y"))]
    result = promotions(Mode.AUTO, capacity=5, holding=4, waiting=waiting, now=NOW, offer_hours=24)
    assert [(p.registration_id, p.state, p.offer_expires_at) for p in result] == [(4, State.CONFIRMED, None)]


def test_no_promotion_while_seats_are_held_by_open_offers() -> None:
    assert promotions(Mode.OFFER, capacity=2, holding=2, waiting=[Waiter(1, (at(0), "$a"))], now=NOW,
                      offer_hours=1) == []


def test_an_offer_never_outlives_the_start_and_nobody_moves_up_after_it() -> None:
    waiting = [Waiter(1, (at(0), "$a"))]
    starts = NOW + timedelta(hours=3)
    [p] = promotions(Mode.OFFER, capacity=1, holding=0, waiting=waiting, now=NOW, offer_hours=24, starts_at=starts)
    assert p.offer_expires_at == starts
    assert promotions(Mode.AUTO, capacity=1, holding=0, waiting=waiting, now=starts, offer_hours=24,
                      starts_at=starts) == []


def test_an_offer_lapses_at_its_deadline_not_before() -> None:
    deadline = NOW + timedelta(hours=24)
    assert not offer_lapsed(State.OFFERED, deadline, deadline - timedelta(seconds=1))
    assert offer_lapsed(State.OFFERED, deadline, deadline)
    assert not offer_lapsed(State.CONFIRMED, deadline, deadline + timedelta(days=1))


def test_workshop_limit_counts_the_places_held_elsewhere() -> None:
    assert workshop_allowed(held_elsewhere=0, per_member=1)
    assert not workshop_allowed(held_elsewhere=1, per_member=1)
    assert workshop_allowed(held_elsewhere=1, per_member=2)


def test_seats_left_never_goes_negative_after_a_capacity_cut() -> None:
    assert seats_left(10, 4) == 6
    assert seats_left(10, 12) == 0


# ---- who may register ----------------------------------------------------------------------------

def problem(**changes: object) -> str | None:
    values = dict(event_state=EventState.PUBLISHED, now=NOW, closes_at=at(3600), ends_at=at(7200),
                  rules_accepted=True, invite_only=False, invited=False)
    values.update(changes)
    return registration_problem(**values)


def test_an_open_event_accepts_a_member_who_accepted_the_rules() -> None:
    assert problem() is None


@pytest.mark.parametrize(("changes", "key"), [
    ({"closes_at": NOW}, "events.register.closed"),
    ({"now": at(7200)}, "events.register.over"),
    ({"event_state": EventState.DRAFT}, "events.register.not_published"),
    ({"event_state": EventState.CANCELLED}, "events.register.cancelled"),
    ({"rules_accepted": False}, "events.register.rules"),
    ({"invite_only": True}, "events.register.invite_only"),
])
def test_registration_is_refused_with_its_reason(changes: dict, key: str) -> None:
    assert problem(**changes) == key


def test_an_invited_member_may_register_for_an_invite_only_event() -> None:
    assert problem(invite_only=True, invited=True) is None


# ---- the form --------------------------------------------------------------------------------------

FORM = """title: Theme meeting on alcohol at work
purpose: Collect members' experiences with alcohol and drugs at work; not a lecture.
programme: 19:30 welcome
  20:00 groups
starts: 2027-03-14 19:30
ends: 21:30
place: https://meet.example.org/alcohol
capacity: 40
registration closes: 2027-03-12
workshops:
Prevention | 20
Conversations | 20
waitlist mode: auto"""


def parse(body: str, now: datetime = NOW) -> tuple:
    raw, problems = split_fields(body)
    draft, more = build(raw, Known(now, "Europe/Amsterdam"))
    return draft, problems + more


def test_a_full_form_becomes_a_draft_with_utc_times() -> None:
    draft, problems = parse(FORM)
    assert problems == []
    assert draft.starts_at == datetime(2027, 3, 14, 18, 30, tzinfo=timezone.utc)  # CET is UTC+1
    assert draft.ends_at == datetime(2027, 3, 14, 20, 30, tzinfo=timezone.utc)
    assert draft.closes_at == datetime(2027, 3, 12, 22, 59, tzinfo=timezone.utc)
    assert [(w.key, w.capacity) for w in draft.workshops] == [("prevention", 20), ("conversations", 20)]
    assert draft.programme == "19:30 welcome\n20:00 groups"
    assert draft.waitlist_mode is Mode.AUTO and draft.capacity == 40


def test_summer_time_is_applied() -> None:
    draft, _ = parse(FORM.replace("2027-03-14", "2027-06-14"))
    assert draft.starts_at.hour == 17  # CEST is UTC+2


@pytest.mark.parametrize(("line", "key"), [
    ("ends: 18:00", "events.form.end_before_start"),
    ("starts: 2026-03-14 19:30", "events.form.in_past"),
    ("timezone: Europe/Amsterdamm", "events.form.bad_timezone"),
    ("capacity: 0", "events.form.out_of_range"),
    ("capacity: many", "events.form.not_number"),
    ("starts: next tuesday", "events.form.bad_datetime"),
    ("waitlist mode: lottery", "events.form.bad_mode"),
    ("registration closes: 2027-03-20 10:00", "events.form.closes_after_end"),
    ("capcity: 40", "events.form.unknown_field_hint"),
])
def test_each_mistake_gets_its_own_clear_problem(line: str, key: str) -> None:
    name = line.split(":")[0]
    body = "\n".join(x for x in FORM.splitlines() if not x.startswith(name)) + "\n" + line
    if name == "timezone":
        body = FORM + "\n" + line
    _, problems = parse(body)
    assert key in [k for k, _ in problems], problems


def test_the_timezone_hint_suggests_the_right_name() -> None:
    _, problems = parse(FORM + "\ntimezone: Europe/Amsterdamm")
    [(key, values)] = problems
    assert "Europe/Amsterdam" in values["hint"]


def test_missing_required_fields_are_named() -> None:
    _, problems = parse("title: Something")
    assert ("events.form.missing", {"names": ("purpose", "starts", "ends", "capacity")}) in problems


def test_a_workshop_line_without_capacity_is_refused() -> None:
    _, problems = parse(FORM.replace("Prevention | 20", "Prevention"))
    assert problems[0][0] == "events.form.bad_workshop"


def test_a_local_time_skipped_by_the_clock_change_is_refused() -> None:
    _, problems = parse(FORM.replace("starts: 2027-03-14 19:30", "starts: 2027-03-28 02:30").replace("ends: 21:30", "ends: 04:00"))
    assert problems[0][0] == "events.form.no_such_time"


def test_event_ids_are_short_readable_and_unique() -> None:
    starts = datetime(2027, 3, 14, tzinfo=timezone.utc)
    assert event_slug("Theme meeting: alcohol & drugs", starts, set()) == "theme-alcohol-drugs-2027"
    assert event_slug("Thema-avond Alcohol", starts, {"thema-avond-alcohol-2027"}) == "thema-avond-alcohol-2027-2"
    assert event_slug("Édition spéciale", starts, set()) == "edition-speciale-2027"
    assert event_slug("Create", starts, set()) == "create-2027"
