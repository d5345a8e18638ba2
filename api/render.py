"""Text that exists twice: a plain body and an HTML body in which every user value is escaped."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import escape as _markup_escape


@dataclass(frozen=True)
class Text:
    plain: str
    html: str

    def __add__(self, other: Text | str) -> Text:
        other = as_text(other)
        return Text(self.plain + other.plain, self.html + other.html)

    def __radd__(self, other: str) -> Text:
        return as_text(other) + self


def escape(value: str) -> str:
    """HTML-escaped (& < > " '), by MarkupSafe: the stdlib's html module would load its table of
    2,231 named entities (about 0.35 MiB) at start for nothing."""
    return str(_markup_escape(value))


def as_text(value: object) -> Text:
    """User or catalogue text becomes Text with its HTML escaped; Text passes through."""
    if isinstance(value, Text):
        return value
    plain = str(value)
    return Text(plain, escape(plain).replace("\n", "<br>"))


def bold(value: object) -> Text:
    inner = as_text(value)
    return Text(inner.plain, f"<b>{inner.html}</b>")


def code(value: object) -> Text:
    plain = str(value)
    return Text(plain, f"<code>{escape(plain)}</code>")


def lines(items: Iterable[object]) -> Text:
    parts = [as_text(i) for i in items]
    return Text("\n".join(p.plain for p in parts), "<br>".join(p.html for p in parts))


def bullets(items: Iterable[object]) -> Text:
    parts = [as_text(i) for i in items]
    if not parts:
        return Text("", "")
    return Text(
        "\n".join(f"- {p.plain}" for p in parts),
        "<ul>" + "".join(f"<li>{p.html}</li>" for p in parts) + "</ul>",
    )


_ISOLATE_CONTROLS = dict.fromkeys(range(0x2066, 0x206A))  # LRI, RLI, FSI, PDI


def isolate(value: object) -> Text:
    """A name someone chose, kept from reordering the text around it: wrapped in Unicode's first-
    strong isolate (FSI ... PDI), which also ends any override inside it. Matrix's HTML has no
    <bdi>, so the isolates go into both bodies; isolate marks of the name's own are dropped, so it
    cannot close ours early."""
    inner = as_text(str(value).translate(_ISOLATE_CONTROLS))
    return Text(f"\u2068{inner.plain}\u2069", f"\u2068{inner.html}\u2069")


def link(url: str) -> Text:
    """A web address, shown as itself."""
    return Text(url, f'<a href="{escape(url)}">{escape(url)}</a>')


def pill(user_id: str, name: str | None = None) -> Text:
    """A mention of a person, as Element renders it; a display name is isolated (see isolate)."""
    label = isolate(name) if name else as_text(user_id)
    return Text(label.plain, f'<a href="https://matrix.to/#/{escape(user_id)}">{label.html}</a>')
