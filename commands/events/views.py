"""How an event reads in chat: purpose first, then when, where, programme and seats."""
from __future__ import annotations

from collections.abc import Callable

from api.render import Text, bold, bullets, code, lines
from commands.events.common import local, when
from commands.events.rules import Mode, seats_left
from storage.models import Event, EventWorkshop

T = Callable[..., Text]


def seats(t: T, capacity: int, taken: int, waiting: int | None = None) -> Text:
    left = seats_left(capacity, taken)
    if left:
        return t("events.view.seats_left", left=left, capacity=capacity)
    if waiting is None:
        return t("events.view.full_short", capacity=capacity)
    return t("events.view.full", capacity=capacity, waiting=waiting)


def expectations(t: T, event: Event) -> Text:
    return t("events.view.expect", text=event.expectations) if event.expectations else t("events.view.expect_default")


def details(t: T, prefix: str, event: Event, workshops: list[EventWorkshop], taken: dict[int, int],
            waiting: dict[int, int], *, for_coordinator: bool = False) -> Text:
    parts: list[Text | str] = [bold(event.title)]
    if event.state != "published":
        parts.append(t(f"events.view.state.{event.state}"))
    parts += [t("events.view.purpose", text=event.purpose), expectations(t, event),
              t("events.view.when", when=when(event))]
    if event.place:
        parts.append(t("events.view.place", place=event.place))
    if event.programme:
        parts += [bold(t("events.view.programme")), event.programme]
    parts.append(t("events.view.seats", seats=seats(t, event.capacity, taken.get(0, 0), waiting.get(0, 0))))
    if workshops:
        parts.append(bold(t("events.view.workshops", per_member=event.workshops_per_member)))
        parts.append(bullets(t("events.view.workshop", name=w.name, wid=code(w.key),
                               seats=seats(t, w.capacity, taken.get(w.id, 0), waiting.get(w.id, 0)))
                             for w in workshops))
    if event.invite_only:
        parts.append(t("events.view.invite_only"))
    if event.acknowledge:
        parts.append(t("events.view.acknowledge"))
    parts.append(t("events.view.closes", closes=local(event, event.closes_at)))
    parts.append(t("events.view.how", register=code(f"{prefix}register {event.slug}" + (" <workshop>" if workshops else ""))))
    if for_coordinator:
        mode = t("events.view.mode_offer", hours=event.offer_hours) if event.waitlist_mode == Mode.OFFER.value \
            else t("events.view.mode_auto")
        parts.append(t("events.view.admin", slug=code(event.slug), mode=mode))
    return lines(parts)


def list_line(t: T, event: Event, taken: int, *, draft: bool = False) -> Text:
    seat_text = seats(t, event.capacity, taken)
    key = "events.list.draft_line" if draft else "events.list.line"
    return t(key, slug=code(event.slug), title=event.title, when=when(event, short=True), seats=seat_text)
