"""How a config section is validated: msgspec checks each key's type and bounds (in C, without the
~8 MiB that pydantic keeps loaded), a `Check` beside a key adds a rule of ours, and every problem
is collected with its key path, so that an admin sees them all at once.

A section is a `msgspec.Struct`; `Section.validate(data)` returns one or raises ConfigError."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Self, get_args, get_origin

import msgspec

UNKNOWN_KEY = "unknown key (check the spelling against config.example.yaml)"
MISSING_KEY = "required key is missing"
_BAD = object()  # a key whose value failed: the section is not built


class ConfigError(Exception):
    """Every problem in a config, each with the key path it concerns."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems))


class Secret:
    """A password, token or key: never shown in repr, str or a dump; get_secret_value() gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Check:
    """A rule of ours on a key, in its annotation: `Annotated[str, Check(fn)]`. fn(value, earlier)
    gets the converted value and the section's keys declared before it; it returns the value (or
    a normalised one) or raises ValueError with the message the admin sees. It runs on a default too."""

    def __init__(self, fn: Callable[[Any, dict[str, Any]], Any]) -> None:
        self.fn = fn


def each(check: Callable[[Any], Any]) -> Check:
    """A Check applying a one-value rule to every item of a list."""
    return Check(lambda values, _earlier: [check(v) for v in values])


def plain(check: Callable[[Any], Any]) -> Check:
    """A Check from a one-value rule."""
    return Check(lambda value, _earlier: check(value))


class Section(msgspec.Struct, kw_only=True):
    """A part of the config; unknown keys are reported, not ignored."""

    @classmethod
    def validate(cls, data: Any) -> Self:
        problems: list[tuple[str, str]] = []
        built = _section(cls, data, "", problems)
        if problems:
            raise ConfigError(problems)
        return built


def as_dict(section: Section) -> dict[str, Any]:
    """A section's keys and values as plain data (nested sections too)."""
    return msgspec.to_builtins(section, enc_hook=str)


def _decode(kind: type, value: Any) -> Any:
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    if kind is Path and isinstance(value, (str, Path)):
        return Path(value)
    raise TypeError(f"Expected `{kind.__name__.lower()}`, got `{type(value).__name__}`")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _section(cls: type[Section], data: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(data, dict):
        problems.append((path or "(top)", "expected a mapping of keys"))
        return _BAD
    fields = msgspec.structs.fields(cls)
    known = {f.encode_name for f in fields}
    problems += [(_join(path, key), UNKNOWN_KEY) for key in data if key not in known]
    before, values = len(problems), {}
    for field in fields:
        key = _join(path, field.encode_name)
        if field.encode_name in data:
            value = _value(field.type, data[field.encode_name], key, problems)
        elif field.required:
            problems.append((key, MISSING_KEY))
            value = _BAD
        else:
            value = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
        values[field.name] = value if value is _BAD else _checked(field.type, value, values, key, problems)
    return _BAD if len(problems) > before else cls(**values)


def _value(kind: Any, value: Any, key: str, problems: list[tuple[str, str]]) -> Any:
    base = get_args(kind)[0] if get_origin(kind) is Annotated else kind
    if isinstance(base, type) and issubclass(base, Section):
        return _section(base, value, key, problems)
    item = get_args(base)[0] if get_origin(base) is list else None
    if isinstance(item, type) and issubclass(item, Section) and isinstance(value, list):
        before = len(problems)
        built = [_section(item, v, _join(key, i), problems) for i, v in enumerate(value)]
        return _BAD if len(problems) > before else built
    try:
        return msgspec.convert(value, kind, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        inner = re.sub(r"\[(\w+)\]", r".\1", where.rstrip("`")).lstrip(".")
        problems.append((_join(key, inner) if inner else key, _plainly(message, kind)))
        return _BAD


_KINDS = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text", "secret": "text",
          "array": "a list", "object": "a mapping", "path": "a path", "null": "empty"}
_BOUNDS = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}


def _plainly(message: str, kind: Any) -> str:
    """msgspec's message ("Expected `float` <= 60.0") as an admin reads it ("should be at most 60")."""
    if message.startswith("Invalid enum value"):
        base = get_args(kind)[0] if get_origin(kind) is Annotated else kind
        return f"should be one of {', '.join(map(str, get_args(base)))}"
    if found := re.match(r"Expected `(.+?)`(?:, got `\w+`)?$", message):
        return "should be " + " or ".join(_KINDS.get(k.strip(), k) for k in found[1].split("|"))
    if found := re.match(r"Expected `\w+` of length ([<>]=?) (\d+)$", message):
        return f"should have {_BOUNDS[found[1]]} {found[2]} character(s)"
    if found := re.match(r"Expected `\w+` ([<>]=?) ([\d.]+)$", message):
        return f"should be {_BOUNDS[found[1]]} {found[2].removesuffix('.0')}"
    if found := re.match(r"Expected `str` matching regex (.+)$", message):
        return f"should match the pattern {found[1]}"
    return message


def _checked(kind: Any, value: Any, earlier: dict[str, Any], key: str, problems: list[tuple[str, str]]) -> Any:
    checks = [c for c in get_args(kind)[1:] if isinstance(c, Check)] if get_origin(kind) is Annotated else []
    for check in checks:
        try:
            value = check.fn(value, earlier)
        except ValueError as exc:
            problems.append((key, str(exc)))
            return _BAD
    return value
