"""Pure decisions of the feedback feature: walking a form one answer at a time, the deadline and
its nudges, and the figures of the results (with the small-number rule). No I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.feedback_forms import SCALE, Form, Question
from api.types import whole_number

SKIP = "-"
BACK = frozenset({"<", "back", "terug", "tilbake"})
TEXT_LIMIT = 2000
SMALL = 3  # an anonymous form shows nothing but the count below this many answers


@dataclass(frozen=True)
class Step:
    """What one message did to the form: the question now reached (len(questions): finished),
    the answers so far, and a problem (catalogue key, values) when the message was not an answer."""

    step: int
    answers: dict[str, Any]
    problem: tuple[str, dict[str, Any]] | None = None

    def done(self, form: Form) -> bool:
        return self.problem is None and self.step >= len(form.questions)


class NotAnAnswer(Exception):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.problem = (key, values)


def judge(question: Question, raw: str) -> Any:
    """The stored value of one answer: a rating 1..5, the option's number (1-based, the same in
    every language), or the text."""
    text = raw.strip()
    if question.kind == "rating":
        value = whole_number(text)
        if value is None or not 1 <= value <= SCALE:
            raise NotAnAnswer("feedback.bad_rating", value=text[:20], high=SCALE)
        return value
    if question.kind == "choice":
        value = whole_number(text)
        if value is not None and 1 <= value <= len(question.options):
            return value
        for number, option in enumerate(question.options, start=1):
            if text.casefold() in {o.casefold() for o in option.values()}:
                return number
        raise NotAnAnswer("feedback.bad_choice", value=text[:40], high=len(question.options))
    if len(text) > TEXT_LIMIT:
        raise NotAnAnswer("feedback.too_long", limit=TEXT_LIMIT, length=len(text))
    return text


def take(form: Form, step: int, answers: dict[str, Any], raw: str) -> Step:
    """One message on question `step`: `-` skips it (its earlier answer, if any, goes), `<` goes
    back one question, anything else must be an answer to it."""
    answers = dict(answers)
    text = raw.strip()
    if text.lower() in BACK:
        return Step(max(step - 1, 0), answers, None if step > 0 else ("feedback.at_first", {}))
    question = form.questions[step]
    if text == SKIP:
        answers.pop(question.key, None)
        return Step(step + 1, answers)
    try:
        answers[question.key] = judge(question, text)
    except NotAnAnswer as err:
        return Step(step, answers, err.problem)
    return Step(step + 1, answers)


# ---- deadline and nudges ---------------------------------------------------------------------

def deadline(ends_at: datetime, explicit: datetime | None, days: int) -> datetime:
    return explicit if explicit is not None else ends_at + timedelta(days=days)


def nudge_times(asked_at: datetime, deadline_at: datetime, count: int) -> list[datetime]:
    """`count` nudges spread evenly between the request and the deadline (none if no time is left)."""
    if count <= 0 or deadline_at <= asked_at:
        return []
    span = deadline_at - asked_at
    return [asked_at + span * i / (count + 1) for i in range(1, count + 1)]


# ---- results ---------------------------------------------------------------------------------

@dataclass
class Figures:
    """One question's figures: for a rating its count per score (1..5), for a choice per option,
    for a text question the texts."""

    question: Question
    counts: list[int] = field(default_factory=list)
    texts: list[tuple[str | None, str]] = field(default_factory=list)  # (who, text); who None: anonymous

    @property
    def answered(self) -> int:
        return sum(self.counts) if self.question.kind != "text" else len(self.texts)

    @property
    def mean(self) -> float | None:
        n = sum(self.counts)
        return sum(score * c for score, c in enumerate(self.counts, start=1)) / n if n else None


def figures(form: Form, answers: list[tuple[str | None, dict[str, Any]]]) -> list[Figures]:
    """Per question of the form, from (who, answers) pairs; values that no longer fit the form
    (a form changed after answers came in) are left out."""
    out = []
    for q in form.questions:
        f = Figures(q, counts=[0] * (SCALE if q.kind == "rating" else len(q.options)))
        for who, given in answers:
            value = given.get(q.key)
            if value is None:
                continue
            if q.kind == "text":
                if isinstance(value, str) and value:
                    f.texts.append((who, value))
            elif isinstance(value, int) and 1 <= value <= len(f.counts):
                f.counts[value - 1] += 1
        out.append(f)
    return out


def too_few(form: Form, count: int) -> bool:
    """The small-number rule: an anonymous form with fewer than three answers shows only the
    count, since with one or two answers the people behind them are easy to guess."""
    return form.anonymous and count < SMALL
