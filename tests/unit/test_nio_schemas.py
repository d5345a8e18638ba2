"""nio's parsers with one validator per schema (bot/matrix/schemas.py) judge as nio's own do: a
good sync parses, a malformed event in it becomes a BadEvent instead of breaking the sync (the
bot goes on), and a malformed sync response is an error, again and again."""
from __future__ import annotations

from typing import Any

import nio

from bot.matrix import schemas

ROOM = "!room:example.org"


def message(event_id: str, **changes: Any) -> dict[str, Any]:
    event = {"type": "m.room.message", "sender": "@alice:example.org", "event_id": event_id,
             "origin_server_ts": 1_700_000_000_000, "content": {"msgtype": "m.text", "body": "!ping"}}
    return {**event, **changes}


def sync(*events: dict[str, Any]) -> dict[str, Any]:
    return {"next_batch": "s1", "rooms": {"join": {ROOM: {"timeline": {"events": list(events), "limited": False}}},
                                          "invite": {}, "leave": {}}}


def test_good_events_parse_and_a_malformed_one_becomes_a_bad_event_every_time() -> None:
    schemas.install()
    for _ in range(2):  # the second time with the validators made the first time
        response = nio.SyncResponse.from_dict(sync(message("$good"), message("$bad", sender=42)))
        assert isinstance(response, nio.SyncResponse)
        good, bad = response.rooms.join[ROOM].timeline.events
        assert isinstance(good, nio.RoomMessageText) and good.body == "!ping"
        assert isinstance(bad, (nio.BadEvent, nio.UnknownBadEvent))


def test_a_malformed_sync_response_is_an_error() -> None:
    schemas.install()
    for _ in range(2):
        assert isinstance(nio.SyncResponse.from_dict({"rooms": "not a sync"}), nio.SyncError)
