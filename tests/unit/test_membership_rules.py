"""The pure membership decisions: room versions, power levels, auto-approval, the last
coordinator, timezone suggestions and member filters."""
from __future__ import annotations

from zoneinfo import available_timezones

import pytest

from api.rooms import choose_room_version, creators_privileged, power_levels, supports_restricted
from commands.membership.rules import auto_approved, loses_last_coordinator, matches_filter
from commands.profile.rules import match_zone

BOT = "@kring:example.org"
ZONES = available_timezones()


@pytest.mark.parametrize(("default", "available", "expected"), [
    ("12", {"12": "stable", "10": "stable"}, ("12", True)),
    ("10", {"10": "stable"}, ("10", True)),
    ("6", {"6": "stable", "9": "stable", "10": "stable", "org.x.11": "unstable"}, ("10", True)),
    ("6", {"6": "stable", "7": "stable"}, ("6", False)),
])
def test_room_version_prefers_the_default_when_it_has_restricted(default, available, expected):
    assert choose_room_version(default, available) == expected


def test_restricted_and_creator_power_by_version():
    assert not supports_restricted("7") and supports_restricted("8") and supports_restricted("12")
    assert not supports_restricted("org.matrix.msc3757.10")
    assert not creators_privileged("11") and creators_privileged("12") and creators_privileged("org.matrix.hydra.11")


def test_power_levels_never_list_the_creator_in_version_12():
    levels = power_levels("lobby", "12", BOT, ["@carol:example.org", BOT])
    assert levels["users"] == {"@carol:example.org": 50}
    assert levels["events"]["m.room.tombstone"] == 150


def test_power_levels_list_the_bot_before_version_12():
    levels = power_levels("lobby", "10", BOT, ["@carol:example.org"])
    assert levels["users"] == {"@carol:example.org": 50, BOT: 100}


@pytest.mark.parametrize(("kind", "events_default"), [("lobby", 0), ("control", 0), ("announcements", 50), ("space", 50)])
def test_only_coordinators_post_announcements(kind, events_default):
    levels = power_levels(kind, "12", BOT, [])
    assert levels["events_default"] == events_default
    assert levels["invite"] == levels["kick"] == 50 and levels["users_default"] == 0


def test_auto_approval_by_id_or_homeserver():
    assert auto_approved("@a:lvv.nl", ["@a:lvv.nl"], [])
    assert auto_approved("@b:LVV.nl", [], ["lvv.nl"])  # host names are case-insensitive
    assert auto_approved("@b:lvv.nl", [], ["LVV.nl"])
    assert not auto_approved("@b:other.org", ["@a:lvv.nl"], ["lvv.nl"])
    assert not auto_approved("@b:evil-lvv.nl", [], ["lvv.nl"])


def test_the_last_coordinator_cannot_go():
    assert loses_last_coordinator(["@c:x"], "@c:x", None)
    assert loses_last_coordinator(["@c:x"], "@c:x", "member")
    assert not loses_last_coordinator(["@c:x"], "@c:x", "coordinator")
    assert not loses_last_coordinator(["@c:x", "@d:x"], "@c:x", None)
    assert not loses_last_coordinator(["@c:x"], "@m:x", None)


@pytest.mark.parametrize(("typed", "meant", "suggested"), [
    ("Europe/Amsterdam", "Europe/Amsterdam", []),
    ("europe/oslo", "Europe/Oslo", []),
    ("UTC", "UTC", []),
    ("Amsterdam", None, ["Europe/Amsterdam"]),
    ("Europe/Brusels", None, ["Europe/Brussels"]),
    ("Amsterdm", None, ["Europe/Amsterdam"]),
    ("Mars/Olympus", None, []),
])
def test_timezones_are_validated_with_suggestions(typed, meant, suggested):
    assert match_zone(typed, ZONES) == (meant, suggested)


def test_member_filters():
    args = ("@alice:x", "Alice", "Hospital Noord")
    assert matches_filter(None, *args, "member", "active")
    assert matches_filter(None, *args, "member", "pending")
    assert not matches_filter(None, *args, "member", "left")
    assert matches_filter("facilitator", *args, "facilitator", "active")
    assert not matches_filter("facilitator", *args, "member", "active")
    assert matches_filter("left", *args, "member", "left")
    assert matches_filter("noord", *args, "member", "active")
    assert not matches_filter("zuid", *args, "member", "active")
