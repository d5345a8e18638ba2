"""Which identifiers a text holds (e-mail addresses, phone numbers, IBANs, street addresses with
postcodes of the networks' countries), so a case-bringer can make a case untraceable before anyone
reads it. Pure; phone numbers and IBANs are checked by well-kept libraries, loaded on first use."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

REGIONS = ("NL", "BE", "NO")  # the networks' countries: numbers written without +31/+32/+47
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# An IBAN as people write it: country, check digits, then groups of letters and digits.
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# Dutch postcode (1234 AB; SA, SD and SS are never issued) with a house number after it
# ("1234 AB 12", "1234AB, nr. 12") or a street and number before it ("Dorpsstraat 12, 1234 AB").
_NL_CODE = r"[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}"
_WORD = r"[A-ZÆØÅ][\wæøåÆØÅéèëüö.'-]*"
_STREET = rf"{_WORD}(?:\s(?:de|la|le|du|des|van|der|den|het|ter|ten|{_WORD})){{0,3}}"
_NUMBER = r"\d{1,5}(?:\s?[a-zA-Z](?![\wæøå]))?(?:-\d{1,4})?"
NL_ADDRESS = re.compile(
    rf"\b{_NL_CODE}\b,?\s(?:(?:nr|no|huisnummer)\.?\s?)?\d{{1,5}}\b"
    rf"|\b{_STREET}\s{_NUMBER},?\s{_NL_CODE}\b")
# Belgian and Norwegian four-digit postcodes, with a street and number before them and the town
# after ("Kerkstraat 5, 2000 Antwerpen", "Storgata 12 B, 0155 Oslo"): four digits alone are a
# year or an amount far more often than a place.
FOUR_DIGIT_ADDRESS = re.compile(rf"\b{_STREET}\s{_NUMBER},?\s\d{{4}}\s[A-ZÆØÅ][\wæøåÆØÅéèëüö-]+")


class Kind(enum.Enum):
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    ADDRESS = "address"


@dataclass(frozen=True)
class Found:
    kind: Kind
    text: str
    start: int


def identifiers(text: str) -> list[Found]:
    """E-mail addresses, phone numbers (Dutch, Belgian, Norwegian or international), valid IBANs
    and postcodes with a house number, each once, in the order they appear."""
    import phonenumbers  # noqa: PLC0415 - loaded on the first case, not at start
    from stdnum import iban  # noqa: PLC0415

    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(kind: Kind, start: int, end: int) -> None:
        if any(start < b and a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append(Found(kind, text[start:end].strip(), start))

    for m in EMAIL.finditer(text):
        add(Kind.EMAIL, m.start(), m.end())
    for m in IBAN.finditer(text):
        if iban.is_valid(m.group(0)):
            add(Kind.IBAN, m.start(), m.end())
    for m in NL_ADDRESS.finditer(text):
        add(Kind.ADDRESS, m.start(), m.end())
    for m in FOUR_DIGIT_ADDRESS.finditer(text):
        add(Kind.ADDRESS, m.start(), m.end())
    for region in REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            add(Kind.PHONE, match.start, match.end)
    seen: set[str] = set()
    out = []
    for item in sorted(found, key=lambda f: f.start):
        if item.text not in seen:
            seen.add(item.text)
            out.append(item)
    return out
