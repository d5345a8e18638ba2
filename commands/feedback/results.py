"""What `!results` shows: response rates, the figures per question as text (for screen readers)
and as a PNG chart, the open answers, a CSV file, and the summary shared with everyone (no names,
no open answers). An anonymous form with fewer than three answers shows only the count."""
from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass

from api import Attachment, Context, Translator, charts
from api.feedback_forms import Form, form as form_of
from api.render import Text, bold, bullets, lines, pill
from commands.feedback import rules
from storage import feedback, registrations as regs, sessions
from storage.models import Event, FeedbackAnswer


@dataclass
class Results:
    event: Event
    form: Form
    answers: list[FeedbackAnswer]
    people: int  # confirmed participants
    people_answered: int
    groups: int
    groups_answered: int
    group_numbers: dict[int, int]  # session id -> its number, for the CSV

    @property
    def too_few(self) -> bool:
        return rules.too_few(self.form, len(self.answers))

    def figures(self) -> list[rules.Figures]:
        return rules.figures(self.form, [(None if a.anonymous else a.user_id, a.answers) for a in self.answers])


async def load(ctx: Context, event: Event) -> Results:
    confirmed = {r.user_id for r in await regs.of_event(ctx.db, event.id, (regs.CONFIRMED,))}
    people, groups_done = await feedback.responded(ctx.db, event.id)
    groups = await sessions.of_event(ctx.db, event.id, None)
    return Results(event, form_of(event.feedback_form), await feedback.answers(ctx.db, event.id),
                   people=len(confirmed), people_answered=len(people & confirmed), groups=len(groups),
                   groups_answered=len(groups_done & {g.id for g in groups}),
                   group_numbers={g.id: g.number for g in groups})


def rates(t: Translator, r: Results) -> Text:
    parts = [t("feedback.results.people", answered=r.people_answered, count=r.people)]
    if r.groups:
        parts.append(t("feedback.results.groups", answered=r.groups_answered, count=r.groups))
    return lines(parts)


def _rating_line(t: Translator, f: rules.Figures) -> Text:
    spread = ", ".join(f"{score}: {n}" for score, n in enumerate(f.counts, start=1))
    if f.mean is None:
        return t("feedback.results.rating_none", label=f.question.label_in(t.language))
    return t("feedback.results.rating", label=f.question.label_in(t.language), mean=t.number(round(f.mean, 1)),
             count=f.answered, spread=spread)


def _choice_line(t: Translator, f: rules.Figures) -> Text:
    options = f.question.options_in(t.language)
    spread = "; ".join(f"{o}: {n}" for o, n in zip(options, f.counts))
    return t("feedback.results.choice", label=f.question.label_in(t.language), spread=spread)


def figures_text(t: Translator, r: Results, *, open_answers: bool) -> Text:
    """The same figures as the chart, as text; the open answers (anonymous ones without names)
    only for coordinators."""
    parts: list[object] = []
    for f in r.figures():
        if f.question.kind == "rating":
            parts.append(_rating_line(t, f))
        elif f.question.kind == "choice":
            parts.append(_choice_line(t, f))
        elif open_answers and f.texts:
            parts.append(bold(f.question.label_in(t.language)))
            parts.append(bullets([(pill(who) + ": " + text) if who else text for who, text in f.texts]))
    return lines(parts)


async def chart_png(t: Translator, r: Results) -> Attachment | None:
    """Drawn in a worker thread: a chart takes a good part of a second of CPU, which the event
    loop (every other member's command) should not wait for."""
    rows = [f for f in r.figures() if f.question.kind == "rating"]
    if not rows:
        return None
    labels = [f"{f.question.label_in(t.language)} (n={f.answered})" for f in rows]
    legend = [t("feedback.chart.score", score=s).plain for s in range(1, 6)]
    means = [t("feedback.chart.mean", mean=t.number(round(f.mean, 1))).plain if f.mean is not None else ""
             for f in rows]
    title = t("feedback.chart.title", title=r.event.title).plain
    data = await asyncio.to_thread(charts.stacked_bars, title, [f.counts for f in rows], labels, legend, means)
    return Attachment(f"{r.event.slug}-feedback.png", "image/png", data)


async def report(t: Translator, r: Results) -> tuple[Text, tuple[Attachment, ...]]:
    """For the coordinators: everything, unless the small-number rule holds it back."""
    head = bold(t("feedback.results.head", title=r.event.title, form=r.form.name_in(t.language)))
    if r.too_few:
        return lines([head, rates(t, r), t("feedback.results.too_few", count=len(r.answers))]), ()
    if not r.answers:
        return lines([head, rates(t, r), t("feedback.results.none")]), ()
    png = await chart_png(t, r)
    return lines([head, rates(t, r), figures_text(t, r, open_answers=True)]), (png,) if png else ()


async def summary(t: Translator, r: Results, outcomes: list[Text] | None = None, *,
                  with_chart: bool = True) -> tuple[Text, tuple[Attachment, ...]]:
    """For everyone: rates, figures and the chart; never a name or an open answer."""
    head = bold(t("feedback.share.head", title=r.event.title))
    parts: list[object] = [head, rates(t, r)]
    files: tuple[Attachment, ...] = ()
    if r.too_few:
        parts.append(t("feedback.results.too_few", count=len(r.answers)))
    elif r.answers:
        parts.append(figures_text(t, r, open_answers=False))
        png = await chart_png(t, r) if with_chart else None
        files = (png,) if png else ()
    if outcomes:
        parts += [bold(t("feedback.share.outcomes")), bullets(outcomes)]
    return lines(parts), files


def csv_file(t: Translator, r: Results) -> Attachment:
    """One row per answer: who (empty for an anonymous one), the group, the day, each question."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([h.strip() for h in t("feedback.csv.head").plain.split(",")]
                    + [q.label_in(t.language) for q in r.form.questions])
    for a in r.answers:
        who = t("feedback.csv.anonymous").plain if a.anonymous else (a.user_id or "")  # a Matrix ID is plain
        group = r.group_numbers.get(a.session_id, "") if a.session_id else ""
        cells = []
        for q in r.form.questions:
            value = a.answers.get(q.key)
            if q.kind == "choice" and isinstance(value, int) and 1 <= value <= len(q.options):
                value = q.options_in(t.language)[value - 1]
            cells.append(_cell("" if value is None else str(value)))
        writer.writerow([who, group, a.answered_at.date().isoformat(), *cells])
    return Attachment(f"{r.event.slug}-feedback.csv", "text/csv", out.getvalue().encode("utf-8"))


def _cell(value: str) -> str:
    """No spreadsheet formula from what someone typed."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
