"""The Recipients capability: in which language, and on which clock, a message to someone other
than the actor is written. Their own `!lang`, else the configured language of the network the
message is about (or of their one network), else the bot's; their own `!tz`, else each time's own
zone. A post in a network's own room is in the network's language. Looked up once per person (or
network) per transaction."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.i18n import Translator
from storage import members, networks
from storage.models import Member


class DbRecipients:
    def __init__(self, session: AsyncSession, default_language: str) -> None:
        self.session = session
        self.default_language = default_language
        self._known: dict[tuple[str, str | None], Translator] = {}

    async def translator(self, user_id: str, network: str | None = None) -> Translator:
        key = (user_id, network)
        if key not in self._known:
            member = await members.get(self.session, user_id)
            language = await self._language(member, user_id, network) or self.default_language
            self._known[key] = Translator(language, zone=member.timezone if member else None)
        return self._known[key]

    async def for_network(self, network: str) -> Translator:
        key = ("", network)
        if key not in self._known:
            net = await networks.get(self.session, network)
            self._known[key] = Translator((net.language if net is not None else None) or self.default_language)
        return self._known[key]

    async def _language(self, member: Member | None, user_id: str, network: str | None) -> str | None:
        if member is not None and member.language:
            return member.language
        candidates = [network] if network else await members.active_networks(self.session, user_id)
        for network_id in candidates:
            net = await networks.get(self.session, network_id)
            if net is not None and net.language:
                return net.language
        return None
