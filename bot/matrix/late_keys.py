"""Encrypted events the bot could not read yet, for MatrixGateway (bot/matrix/gateway.py): ask the
sender's devices for the missing room key, and decrypt the event once it has come."""
from __future__ import annotations

from typing import Any

import nio

from api.types import RoomEvent
from bot.matrix.incoming import Incoming


class LateKeys:
    """Mixed into MatrixGateway, which provides `client`, `to_incoming` and `room_event_types`."""

    client: nio.AsyncClient
    room_event_types: frozenset[str]

    async def request_key(self, room_id: str, event_id: str) -> None:
        """Ask the sender's devices for a missing room key (best effort)."""
        event = await self._fetch(room_id, event_id)
        if isinstance(event, nio.MegolmEvent):
            message = event.as_key_request(event.sender, self.client.device_id)
            await self.client.to_device(message)

    async def try_decrypt(self, room_id: str, event_id: str) -> Incoming | RoomEvent | None | bool:
        """The event as Incoming once its key is here; False while it is still unreadable."""
        event = await self._fetch(room_id, event_id)
        if isinstance(event, nio.MegolmEvent):
            try:
                event = self.client.decrypt_event(event)
            except (nio.EncryptionError, Exception):  # noqa: BLE001 - still no key
                return False
            if isinstance(event, nio.MegolmEvent):
                return False
        return self.to_incoming(room_id, event, self.room_event_types)

    async def _fetch(self, room_id: str, event_id: str) -> Any:
        resp = await self.client.room_get_event(room_id, event_id)
        if isinstance(resp, nio.RoomGetEventError):
            return None
        event = resp.event
        if isinstance(event, nio.MegolmEvent):
            event.room_id = room_id
        return event
