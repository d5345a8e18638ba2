"""The words a person may type in the event form, beside the canonical English field names:
synonyms, yes and no and waitlist modes (day words are the time converter's: api.converters).
Pure (standard library only); the handlers add every catalogue's own words
(commands/events/words.py)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ALIASES = {
    "program": "programme", "agenda": "programme", "tz": "timezone", "time zone": "timezone",
    "start": "starts", "begins": "starts", "end": "ends", "link": "place", "location": "place",
    "place or link": "place", "where": "place", "seats": "capacity", "closes": "registration closes",
    "registration": "registration closes", "deadline": "registration closes", "invite only": "invite-only",
    "invitation only": "invite-only", "workshop": "workshops", "per member": "workshops per member",
    "waitlist": "waitlist mode", "waiting list": "waitlist mode", "mode": "waitlist mode",
    "offer": "offer hours", "expected": "expectations", "expectation": "expectations",
    "acknowledgement": "acknowledge", "acknowledgment": "acknowledge",
    # Dutch and Norwegian synonyms beside each catalogue's own field names (events.field.*)
    "eind": "ends", "plaats": "place", "adres": "place", "waar": "place", "capaciteit": "capacity",
    "aantal plaatsen": "capacity", "sluiting aanmelding": "registration closes", "wachtlijstmodus": "waitlist mode",
    "alleen op uitnodiging": "invite-only", "formal": "purpose", "slutter": "ends", "starter": "starts",
    "adresse": "place", "kapasitet": "capacity", "frist": "registration closes", "ventelistemodus": "waitlist mode",
    "kun inviterte": "invite-only",
}
YES = frozenset({"yes", "y", "true", "on", "1", "ja", "j"})
NO = frozenset({"no", "n", "false", "off", "0", "nee", "nei", "-"})


@dataclass(frozen=True)
class Vocabulary:
    """The words a person may type in the form besides the English ones built in here: field
    names, yes and no and the waitlist modes, in every language Kring speaks
    (commands/events/words.py builds it from the catalogues)."""

    fields: Mapping[str, str] = field(default_factory=dict)
    yes: frozenset[str] = YES
    no: frozenset[str] = NO
    modes: Mapping[str, str] = field(default_factory=dict)


ENGLISH = Vocabulary()


class FieldName(str):
    """A canonical field name in a problem's values; the handler shows it in the reader's language."""
