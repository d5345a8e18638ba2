"""One way to register: discovery imports every module of every feature and collects what the
decorators tagged; no module keeps a registry, no import is kept for its side effect, and the
features import only api, storage and commands.common."""
from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from api import confirmable, eraser, exporter, on_leave
from api.declared import Declared
from api.decorators import FLOW_FILES_ATTR, JOB_AHEAD_ATTR, JOB_ALWAYS_ATTR, JOB_ATTR, JOB_EVERY_ATTR
from api.deferred import StaleDeclarations, deferred_modules, listing
from bot.router import DECLARED, Registry, feature_modules
from storage import privacy

ROOT = Path(__file__).resolve().parents[2]


def test_discovery_collects_every_kind_of_declaration() -> None:
    declared = Registry.discover().declared
    assert {"events.cancel", "privacy.forget"} <= set(declared.confirmables)
    assert [h.__module__ for h in declared.leave_hooks] == ["commands.cases.retention", "commands.events.service",
                                                            "commands.sessions.rooms"]
    assert [h.__module__ for h in declared.session_hooks] == ["commands.sessions.rooms"]
    assert "events.offer_expiry" in declared.jobs and "events.create" in declared.flows
    assert {s.feature for s in declared.commands if s.name.startswith("event ")} == {"events"}


def test_storage_declares_its_exporters_and_erasers_by_tag() -> None:
    exporters, erasers = privacy.collected()
    assert {"profile", "memberships", "registrations", "events"} <= set(exporters)
    assert {"registrations", "events"} <= set(erasers)
    assert not hasattr(privacy, "register_exporter") and not hasattr(privacy, "_exporters")


def test_a_name_declared_twice_is_refused() -> None:
    module = ModuleType("commands.fake.twice")

    async def one(ctx, args):  # noqa: ANN001, ANN202
        return None

    async def two(ctx, args):  # noqa: ANN001, ANN202
        return None

    for fn in (one, two):
        fn.__module__ = module.__name__
        setattr(module, fn.__name__, confirmable("fake.same")(fn))
    with pytest.raises(ValueError, match="fake.same"):
        Declared.collect([("fake", module)])


def test_a_feature_can_declare_privacy_parts_and_leave_hooks() -> None:
    module = ModuleType("commands.fake.parts")

    async def export(session, user_id):  # noqa: ANN001, ANN202
        return {}

    async def erase(session, user_id, now):  # noqa: ANN001, ANN202
        return None

    async def let_go(ctx, user_id, network):  # noqa: ANN001, ANN202
        return None

    for fn in (exporter("fake")(export), eraser("fake")(erase), on_leave(let_go)):
        fn.__module__ = module.__name__
        setattr(module, fn.__name__, fn)
    declared = Declared.collect([("fake", module)])
    assert declared.exporters == {"fake": export} and declared.erasers == {"fake": erase}
    assert declared.leave_hooks == [let_go]


def test_no_import_is_kept_for_its_side_effect() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "commands").rglob("*.py") if "noqa: F401" in p.read_text()]
    assert offenders == []


def test_the_independence_contract_names_every_feature_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "independence"]
    features = {f"commands.{p.name}" for p in (ROOT / "commands").iterdir()
                if (p / "__init__.py").exists() and p.name != "common"}
    assert set(contract["modules"]) == features


def test_declared_json_lists_what_the_decorators_declare() -> None:
    """The running bot reads commands/declared.json instead of importing every feature: a
    declaration changed without rewriting the file fails here."""
    written = json.loads((ROOT / "commands" / DECLARED).read_text())
    assert written == listing(feature_modules()), "commands/declared.json is stale: run scripts/declarations.py"


def test_the_loaded_registry_declares_what_discovery_finds() -> None:
    found, loaded = Registry.discover().declared, Registry.load().declared
    fields = lambda spec: (replace(spec, handler=None, params=()))  # noqa: E731
    assert [fields(s) for s in loaded.commands] == [fields(s) for s in found.commands]
    for table in ("jobs", "flows", "confirmables", "starters", "exporters", "erasers"):
        assert {k: (f.__module__, f.__name__) for k, f in getattr(loaded, table).items()} == \
               {k: (f.__module__, f.__name__) for k, f in getattr(found, table).items()}, table
    for hooks in ("leave_hooks", "seat_hooks", "session_hooks", "publish_hooks"):
        assert [(f.__module__, f.__name__) for f in getattr(loaded, hooks)] == \
               [(f.__module__, f.__name__) for f in getattr(found, hooks)], hooks
    assert loaded.room_events.keys() == found.room_events.keys()
    for attr in (JOB_ALWAYS_ATTR, JOB_AHEAD_ATTR, JOB_EVERY_ATTR):
        assert {k: getattr(f, attr, None) for k, f in loaded.jobs.items()} == \
               {k: getattr(f, attr, None) for k, f in found.jobs.items()}, attr
    assert {k: getattr(f, FLOW_FILES_ATTR, False) for k, f in loaded.flows.items()} == \
           {k: getattr(f, FLOW_FILES_ATTR, False) for k, f in found.flows.items()}


def test_a_listed_function_that_no_longer_declares_it_refuses_to_run() -> None:
    [(_feature, module)] = deferred_modules([{"feature": "help", "module": "commands.help.handlers", "name": "help_command",
                                              "tags": {JOB_ATTR: "help.gone"}}])
    with pytest.raises(StaleDeclarations, match="scripts/declarations.py"):
        module.help_command(None)
