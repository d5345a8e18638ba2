"""Pure poll rules: reading `!poll` options, the MSC3381 event contents (as Element sends and
reads them), reading a response in either type, and the tally. No I/O."""
from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from datetime import timedelta

START = "org.matrix.msc3381.poll.start"
START_STABLE = "m.poll.start"
RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
END = "org.matrix.msc3381.poll.end"
TEXT = "org.matrix.msc1767.text"
DISCLOSED, UNDISCLOSED, ANONYMOUS = "disclosed", "undisclosed", "anonymous"
KINDS = {DISCLOSED: "org.matrix.msc3381.poll.disclosed", UNDISCLOSED: "org.matrix.msc3381.poll.undisclosed"}
MARK = "org.kring.poll"  # our own key in the start event: the poll's number, to know it in the timeline
MAX_OPTIONS = 20  # MSC3381: clients need not show more
ANONYMOUS_LEAST = 3  # fewer voters than this in an anonymous poll: counts would show who chose what


def counts_shown(kind: str, closed: bool, voters: int) -> bool:
    """An anonymous poll shows its counts only once closed (counts watched while they change would
    trace a vote to whoever just voted) and only with enough voters; other polls always."""
    return kind != ANONYMOUS or (closed and (voters == 0 or voters >= ANONYMOUS_LEAST))
MAX_TEXT = 340
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})
_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w)$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class PollProblem(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


@dataclass
class PollRequest:
    """What `!poll "Q" "A" "B" [multi=2] [closes=2h] [undisclosed|anonymous]` asks for."""

    question: str
    options: list[str]
    multi: int = 1
    closes: str | None = None  # a duration (2h) or a local date-time (2027-03-14T19:30), read by the handler
    kind: str = DISCLOSED
    unknown: list[str] = field(default_factory=list)


def parse_request(text: str) -> PollRequest:
    try:
        words = shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise PollProblem("polls.bad_quotes") from None
    texts: list[str] = []
    multi, closes, kind = 1, None, DISCLOSED
    for word in words:
        low = word.lower()
        if low.startswith("multi="):
            value = low.split("=", 1)[1]
            if not value.isdigit() or int(value) < 1:
                raise PollProblem("polls.bad_multi", value=value[:20])
            multi = int(value)
        elif low.startswith("closes="):
            closes = word.split("=", 1)[1]
        elif low in (UNDISCLOSED, ANONYMOUS):
            kind = low
        else:
            texts.append(" ".join(word.split()))
    if len(texts) < 3:
        raise PollProblem("polls.too_few")
    question, options = texts[0], texts[1:]
    if len(options) > MAX_OPTIONS:
        raise PollProblem("polls.too_many", most=MAX_OPTIONS)
    if any(not t or len(t) > MAX_TEXT for t in texts):
        raise PollProblem("polls.too_long", most=MAX_TEXT)
    if len({o.casefold() for o in options}) != len(options):
        raise PollProblem("polls.same_option")
    if multi > len(options):
        raise PollProblem("polls.bad_multi", value=str(multi))
    if kind == ANONYMOUS and multi != 1:
        raise PollProblem("polls.anonymous_single")
    return PollRequest(question, options, multi, closes, kind)


def duration(raw: str) -> timedelta | None:
    found = _DURATION.match(raw.strip())
    if not found or int(found.group(1)) == 0:
        return None
    return timedelta(**{_UNITS[found.group(2).lower()]: int(found.group(1))})


def option_ids(options: list[str]) -> list[dict[str, str]]:
    return [{"id": f"o{n}", "text": text} for n, text in enumerate(options, start=1)]


def fallback(question: str, options: list[dict[str, str]]) -> str:
    return "\n".join([question, *(f"{n}. {o['text']}" for n, o in enumerate(options, start=1))])


def start_content(poll_id: int, question: str, options: list[dict[str, str]], max_selections: int,
                  kind: str) -> dict:
    """The start event as Element sends it, with a plain-text fallback for other clients."""
    text = fallback(question, options)
    return {
        START: {
            "question": {TEXT: question, "body": question, "msgtype": "m.text"},
            "kind": KINDS[kind],
            "max_selections": max_selections,
            "answers": [{"id": o["id"], TEXT: o["text"]} for o in options],
        },
        TEXT: text,
        "body": text,
        MARK: poll_id,
    }


def end_content(start_event_id: str, text: str, counts: dict[str, int]) -> dict:
    """The end event: unstable keys for today's Element, stable ones (m.text, m.poll.results) beside."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
        "org.matrix.msc3381.poll.end": {},
        TEXT: text,
        "body": text,
        "m.text": [{"body": text}],
        "m.poll.results": dict(counts),
    }


def response_of(content: dict) -> tuple[str, list[str]] | None:
    """(start event id, selected answer ids) of a response in either type; None if not one."""
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") != "m.reference" or not isinstance(relates.get("event_id"), str):
        return None
    answers = None
    for key in ("org.matrix.msc3381.poll.response", "m.poll.response"):
        block = content.get(key)
        if isinstance(block, dict) and isinstance(block.get("answers"), list):
            answers = block["answers"]
    if answers is None and isinstance(content.get("m.selections"), list):
        answers = content["m.selections"]
    if answers is None:
        return None
    return relates["event_id"], [a for a in answers if isinstance(a, str)][:MAX_OPTIONS]


def valid_answers(answers: list[str], option_ids_: list[str], max_selections: int) -> list[str]:
    """MSC3381: unknown ids are dropped, duplicates once, only the first max_selections count; a
    response left with none is spoiled (it still replaces the member's earlier one)."""
    seen: list[str] = []
    for answer in answers:
        if answer in option_ids_ and answer not in seen:
            seen.append(answer)
    return seen[:max_selections]


def tally(option_ids_: list[str], responses: list[list[str]], max_selections: int) -> dict[str, int]:
    counts = dict.fromkeys(option_ids_, 0)
    for answers in responses:
        for answer in valid_answers(answers, option_ids_, max_selections):
            counts[answer] += 1
    return counts


def top(counts: dict[str, int]) -> list[str]:
    """The option ids with the most votes (several on a tie); none when nobody voted."""
    most = max(counts.values(), default=0)
    return [o for o, n in counts.items() if n == most] if most else []


def receipt_digest(poll_id: int, code: str, option: int) -> str:
    """What an anonymous voter's change code is kept as: a hash over the poll, the code (which only
    the voter holds) and the option, so the table says neither who nor what."""
    return hashlib.sha256(f"kring-poll:{poll_id}:{code.strip().lower()}:{option}".encode()).hexdigest()
