"""Which invites the bot takes, and its record of its DMs, kept true. It goes into DMs, its
networks' rooms and rooms a coordinator invites it to; anyone else's group room is declined.
Confidential answers go only to DMs, so a room counts as one only while it holds the bot and one
person: an invite marked "direct" into a room with others is a group room, and a DM that gains a
third member, or that its person left, is forgotten (the next message to that person opens a new
DM)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.chat import OutboxChat
from api.i18n import Translator
from bot.matrix.gateway import Invite, MatrixGateway, SyncBatch
from storage import direct_rooms, members, networks
from storage.database import Database

log = logging.getLogger("kring.direct")
PRESENT = ("join", "invite")


class DirectRooms:
    def __init__(self, gateway: MatrixGateway, db: Database, clock: Callable[[], datetime], *, language: str,
                 on_commit: Callable[[], None]) -> None:
        self.gateway = gateway
        self.db = db
        self.clock = clock
        self.language = language
        self.on_commit = on_commit

    async def accept(self, invite: Invite) -> None:
        """Take an invite into a room where the inviter is the only other person (a DM), into one
        of the networks' rooms, or from a coordinator; decline (leave) any other group room,
        posting nothing there. Recorded as a DM only if marked direct and one-to-one."""
        trusted = await self._trusted(invite)
        if not await self.gateway.join(invite.room_id):
            log.warning("could not join after invite", extra={"room_id": invite.room_id})
            return
        try:
            others = {user for user, state in (await self.gateway.memberships(invite.room_id)).items()
                      if state in PRESENT and user != self.gateway.user_id}
        except ConnectionError:
            others = None  # unknown: only a trusted invite is kept
        one_to_one = invite.inviter is not None and others == {invite.inviter}
        if not (one_to_one or trusted):
            await self.gateway.leave(invite.room_id)
            log.info("declined an invite into a group room", extra={"room_id": invite.room_id})
            return
        direct = invite.is_direct and one_to_one
        if invite.is_direct and not direct:
            log.info("invited as a DM, but others are in the room: a group room", extra={"room_id": invite.room_id})
        if direct:
            async with self.db.transaction() as session:
                await direct_rooms.record(session, invite.room_id, invite.inviter, self.clock())
        log.info("joined after invite", extra={"room_id": invite.room_id, "direct": direct})

    async def _trusted(self, invite: Invite) -> bool:
        """One of the networks' own rooms, or an invite from a coordinator of any network."""
        async with self.db.read() as session:
            if await networks.network_of_room(session, invite.room_id):
                return True
            roles = await members.roles(session, invite.inviter) if invite.inviter else {}
        return "coordinator" in roles.values()

    async def __call__(self, batch: SyncBatch) -> None:
        """A sync watcher: forget DMs that stopped being one-to-one."""
        for change in batch.memberships:
            async with self.db.read() as session:
                partner = await direct_rooms.partner(session, change.room_id)
            if partner is None:
                continue
            if change.user_id not in (partner, self.gateway.user_id) and change.membership in PRESENT:
                await self._forget(change.room_id, tell_room=True)
            elif change.user_id == partner and change.membership not in PRESENT:
                await self._forget(change.room_id, tell_room=False)
        for room_id in batch.left_rooms:
            async with self.db.read() as session:
                partner = await direct_rooms.partner(session, room_id)
            if partner is not None:
                await self._forget(room_id, tell_room=False)

    async def _forget(self, room_id: str, *, tell_room: bool) -> None:
        async with self.db.transaction() as session:
            await direct_rooms.forget(session, room_id)
            if tell_room:
                chat = OutboxChat(session, self.clock())
                await chat.send(room_id, Translator(self.language)("dm.no_longer_private"), notice=True)
        if tell_room:
            self.on_commit()
        log.info("no longer a DM", extra={"room_id": room_id, "third_person": tell_room})
