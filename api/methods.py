"""Session methods: the ones shipped with Kring (api/methods/*.yaml) and those an installation
adds in its config (`methods:`: YAML files or inline definitions), parsed into plain Method values.
Features may not import yaml, so reading and checking happen here; bot/config.py checks the
configured ones at start (a clear error naming the entry) and bot/app.py hands them to `use`.
The progression through a method (phases, turns, written rounds) is decided in
commands/sessions/methods.py."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from api import yaml_files

SHIPPED = Path(__file__).parent / "methods"
_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")

Texts = Mapping[str, str]  # language code -> text; English is always there


def text(texts: Texts, language: str | None) -> str:
    return texts.get(language or "en") or texts["en"]


@dataclass(frozen=True)
class Phase:
    title: Texts
    instruction: Texts
    minutes: int | None = None
    round: bool = False  # every participant gets a turn
    skip_case_bringer: bool = False
    written: bool = False  # contributions come by DM and are revealed together
    names_shown: bool = True  # in a written round: whose contribution is whose


@dataclass(frozen=True)
class Method:
    key: str
    name: Texts
    description: Texts
    phases: tuple[Phase, ...]


class MethodError(ValueError):
    """A method definition that cannot be used; the message says which and why."""


def _texts(raw: object, where: str) -> Texts:
    if isinstance(raw, str):
        raw = {"en": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("en"), str) or not raw["en"].strip():
        raise MethodError(f"{where}: needs an English text (en)")
    return {str(k): str(v).strip() for k, v in raw.items()}


def parse(key: str, raw: Mapping[str, object]) -> Method:
    """A Method from its YAML values: name, description, phases (title, instruction, minutes,
    round, skip_case_bringer, written, names_shown). A written round is a round."""
    if not isinstance(raw, Mapping):
        raise MethodError(f"method {key}: must be a mapping with name, description and phases")
    phases = raw.get("phases")
    if not isinstance(phases, Sequence) or isinstance(phases, str) or not phases:
        raise MethodError(f"method {key}: needs at least one phase")
    out = []
    for i, p in enumerate(phases, 1):
        if not isinstance(p, Mapping):
            raise MethodError(f"method {key}, phase {i}: must be a mapping")
        unknown = set(p) - {"title", "instruction", "minutes", "round", "skip_case_bringer", "written", "names_shown"}
        if unknown:
            raise MethodError(f"method {key}, phase {i}: unknown key {sorted(unknown)[0]!r}")
        minutes = p.get("minutes")
        if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1):
            raise MethodError(f"method {key}, phase {i}: minutes must be a positive whole number")
        flags = {name: p.get(name, default) for name, default in
                 (("round", False), ("skip_case_bringer", False), ("written", False), ("names_shown", True))}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise MethodError(f"method {key}, phase {i}: {name} must be true or false")
        if flags["written"] and not flags["round"]:
            raise MethodError(f"method {key}, phase {i}: a written phase is a round (add round: true)")
        out.append(Phase(title=_texts(p.get("title"), f"method {key}, phase {i} title"),
                         instruction=_texts(p.get("instruction"), f"method {key}, phase {i} instruction"),
                         minutes=minutes, **flags))
    return Method(key=key, name=_texts(raw.get("name"), f"method {key} name"),
                  description=_texts(raw.get("description"), f"method {key} description"), phases=tuple(out))


@cache
def shipped() -> dict[str, dict[str, Any]]:
    """key -> the method's YAML values, in key order."""
    return {p.stem: yaml_files.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted(SHIPPED.glob("*.yaml"))}


def _check_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 64 or not set(key) <= _KEY_CHARS:
        raise MethodError(f"{where}: the key must be lowercase letters, digits and dashes (at most 64), "
                          f"got {str(key)[:64]!r}")
    return key


def configured(entries: Sequence[object], base: Path | None = None) -> dict[str, Method]:
    """The methods an installation adds: each entry is a path to a YAML file (its key is the file
    name; relative paths from `base`, the config file's folder) or an inline mapping with a `key`.
    Raises MethodError naming the entry (`methods[2]: ...`) for anything unusable, including a
    key that a shipped or earlier method already has."""
    found: dict[str, Method] = {}
    taken = set(shipped())
    for i, entry in enumerate(entries):
        where = f"methods[{i}]"
        if isinstance(entry, str):
            path = Path(entry).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            try:
                raw = yaml_files.safe_load(path.read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise MethodError(f"{where}: cannot read {entry}: {exc.strerror}") from None
            except yaml.YAMLError:
                raise MethodError(f"{where}: {entry} is not valid YAML") from None
            key = _check_key(path.stem, where)
        elif isinstance(entry, Mapping):
            raw = {k: v for k, v in entry.items() if k != "key"}
            key = _check_key(entry.get("key"), where)
        else:
            raise MethodError(f"{where}: give a YAML file's path or a mapping with key, name, description, phases")
        if key in taken or key in found:
            raise MethodError(f"{where}: there is already a method {key!r}; give this one another key")
        try:
            found[key] = parse(key, raw)
        except MethodError as exc:
            raise MethodError(f"{where}: {exc}") from None
    return found


_extra: dict[str, Method] = {}


def use(extra: Mapping[str, Method]) -> None:
    """Set the configured methods (bot/app.py at start; tests)."""
    _extra.clear()
    _extra.update(extra)


@cache
def _shipped_methods() -> dict[str, Method]:
    return {key: parse(key, raw) for key, raw in shipped().items()}


def available() -> dict[str, Method]:
    """Every method a facilitator may start: the shipped ones, then the configured ones."""
    return {**_shipped_methods(), **_extra}
