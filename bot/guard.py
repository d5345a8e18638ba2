"""Members-only rooms, enforced: whoever joins a network's open room (Space, lobby, announcements)
without being an active member of that network, or its control room without being a coordinator,
is removed and told in a DM why and how to apply. Each join is handled once (its event id goes in
processed_events). The guard also keeps members' display names, and reports a network room the
bot itself was removed from."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.chat import OutboxChat
from api.i18n import Translator
from bot.matrix.gateway import MemberChange, SyncBatch
from storage import events, members, networks, processed, sessions
from storage.models import GroupSession
from storage.database import Database

log = logging.getLogger("kring.guard")


class RoomGuard:
    def __init__(self, db: Database, bot_user_id: str, clock: Callable[[], datetime], *, language: str,
                 prefix: str, on_commit: Callable[[], None]) -> None:
        self.db = db
        self.bot_user_id = bot_user_id
        self.clock = clock
        self.language = language
        self.prefix = prefix
        self.on_commit = on_commit

    async def __call__(self, batch: SyncBatch) -> None:
        for change in batch.memberships:
            if change.membership == "join" and change.user_id != self.bot_user_id:
                await self.joined(change)
        for room_id in batch.left_rooms:
            await self.bot_left(room_id)

    async def joined(self, change: MemberChange) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            where = await networks.network_of_room(session, change.room_id)
            if where is None:
                group = await sessions.by_room(session, change.room_id)
                removed = group is not None and await processed.claim(session, change.event_id, change.room_id, now) \
                    and await self._session_room(session, group, change, now)
        if where is None:
            if removed:
                self.on_commit()
                log.info("removed an outsider from a session room", extra={"room_id": change.room_id})
            return
        async with self.db.transaction() as session:
            if not await processed.claim(session, change.event_id, change.room_id, now):
                return
            net_id, kind = where
            roles = await members.roles(session, change.user_id)
            role = roles.get(net_id)
            allowed = role == "coordinator" if kind == "control" else role is not None
            if allowed:
                member = await members.get(session, change.user_id)
                if member and change.display_name and member.display_name != change.display_name:
                    member.display_name = change.display_name[:255]
                return
            network = await networks.get(session, net_id)
            member = await members.get(session, change.user_id)
            t = Translator((member.language if member else None) or (network.language if network else None)
                           or self.language)
            name = network.name if network else net_id
            chat = OutboxChat(session, now)
            await chat.kick(change.room_id, change.user_id, t("guard.kick_reason", network=name).plain)
            key = "guard.control_room" if kind == "control" and role is not None else "guard.members_only"
            await chat.dm(change.user_id, t(key, network=name, network_id=net_id, prefix=self.prefix))
        self.on_commit()
        log.info("removed a non-member from a network room", extra={"room_id": change.room_id, "kind": kind})

    async def _session_room(self, session, group: GroupSession, change: MemberChange, now: datetime) -> bool:  # noqa: ANN001
        """A session's private room holds its group only: anyone else who got in is removed and
        told why (the session is named, nothing of what was said there)."""
        if await sessions.belongs(session, group, change.user_id):
            return False
        event = await events.lock(session, group.event_id)
        network = await networks.get(session, event.network) if event else None
        member = await members.get(session, change.user_id)
        t = Translator((member.language if member else None) or (network.language if network else None)
                       or self.language)
        ref = f"{event.slug}/{group.number}" if event else str(group.number)
        chat = OutboxChat(session, now)
        await chat.kick(change.room_id, change.user_id, t("sessions.room.outsider_reason", session=ref).plain)
        await chat.dm(change.user_id, t("sessions.room.outsider_dm", session=ref))
        return True

    async def bot_left(self, room_id: str) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            where = await networks.network_of_room(session, room_id)
            row = await networks.room(session, *where) if where else None
            if row is None or row.state == "lost":
                return
            await networks.mark_room(session, where[0], where[1], "lost", now)
            network = await networks.get(session, where[0])
            t = Translator((network.language if network else None) or self.language)
            text = t("guard.room_lost", network=network.name if network else where[0],
                     kind=t(f"rooms.{where[1]}.label"))
            chat = OutboxChat(session, now)
            control = await networks.room_id(session, where[0], "control")
            if control and where[1] != "control":
                await chat.send(control, text)
            else:
                for user_id in await members.with_role(session, where[0], "coordinator"):
                    await chat.dm(user_id, text)
        self.on_commit()
        log.error("the bot is no longer in a network room; it will be replaced at the next start",
                  extra={"room_id": room_id, "network": where[0], "kind": where[1]})
