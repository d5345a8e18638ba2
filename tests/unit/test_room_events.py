"""Room events other than messages (poll responses) reach a feature: the sync filter lets the
declared types through, the timeline turns them (decrypted or not) into RoomEvents in order with
the messages, and a type nobody declared stays out."""
from __future__ import annotations

import nio

from api import RoomEvent
from bot.config import MatrixConfig
from bot.matrix.gateway import MatrixGateway
from bot.matrix.timeline import SyncBatch, collect
from bot.matrix.incoming import Incoming
from bot.router import Registry

RESPONSE = "org.matrix.msc3381.poll.response"


def _event(event_type: str, content: dict, event_id: str, ts: int = 1_700_000_000_000) -> dict:
    return {"type": event_type, "content": content, "event_id": event_id, "sender": "@ann:example.org",
            "origin_server_ts": ts, "room_id": "!lobby:example.org"}


def test_the_poll_feature_declares_the_types_it_reads() -> None:
    declared = Registry.discover().declared.room_events
    assert {"org.matrix.msc3381.poll.start", RESPONSE, "m.poll.response"} <= set(declared)


def test_declared_types_pass_the_sync_filter(tmp_path) -> None:  # noqa: ANN001
    gateway = MatrixGateway(MatrixConfig(homeserver="http://127.0.0.1:1", user_id="@kring:example.org",
                                         password="x", store_path=str(tmp_path)))
    gateway.room_event_types = frozenset({RESPONSE, "m.poll.response"})
    types = gateway.sync_filter()["room"]["timeline"]["types"]
    assert {"m.room.message", "m.room.encrypted", RESPONSE, "m.poll.response"} <= set(types)


def test_the_timeline_keeps_declared_events_in_order_with_messages() -> None:
    events = [nio.Event.parse_event(_event("m.room.message", {"msgtype": "m.text", "body": "!help"}, "$1")),
              nio.Event.parse_event(_event(RESPONSE, {RESPONSE: {"answers": ["o1"]}}, "$2")),
              nio.Event.parse_event(_event("com.example.other", {}, "$3"))]
    batch = SyncBatch(next_batch="s1")
    collect(batch, "!lobby:example.org", events, frozenset({RESPONSE}))
    [message, response] = batch.messages["!lobby:example.org"]
    assert isinstance(message, Incoming) and message.body == "!help"
    assert isinstance(response, RoomEvent) and response.type == RESPONSE
    assert response.content == {RESPONSE: {"answers": ["o1"]}} and response.sender == "@ann:example.org"
