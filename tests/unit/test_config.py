"""The config an admin writes: every mistake listed at once with its key, secrets from the
environment and never shown, and `kring check-config` telling the admin what to fix."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.config import ConfigError, as_dict, load_config

REPO = Path(__file__).resolve().parents[2]
SECRET = "hunter2-do-not-print"

GOOD = {
    "matrix": {"homeserver": "https://matrix.example.org/", "user_id": "@kring:example.org", "password": SECRET},
    "bot": {"timezone": "Europe/Oslo", "coordinators": ["@carol:example.org"]},
    "networks": [{"id": "north", "name": "North", "timezone": "Europe/Amsterdam", "language": "nl"}],
}


def write(tmp_path: Path, data: object, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={} if environ is None else environ)
    return dict(caught.value.problems)


def test_a_good_config_loads_with_its_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    assert config.matrix.homeserver == "https://matrix.example.org"
    assert config.matrix.password.get_secret_value() == SECRET
    assert config.bot.timezone == "Europe/Oslo"
    assert config.network_ids() == ["north"]


def test_every_mistake_is_listed_at_once_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "matrix": {"homeserver": "matrix.example.org", "user_id": "kring"},
        "storage": {"database_url": "mysql://root@localhost/kring"},
        "bot": {"timezone": "Europe/Amsterdm", "colour": "blue"},
        "networks": [{"id": "north", "name": "North", "coordinators": ["carol"]}],
        "extras": {},
    })
    found = problems(path)
    assert set(found) == {
        "matrix.homeserver", "matrix.user_id", "matrix.access_token", "storage.database_url",
        "bot.timezone", "bot.colour", "networks.0.coordinators", "extras",
    }
    assert "http:// or https://" in found["matrix.homeserver"]
    assert "'kring' is not a Matrix ID like @name:example.org" in found["matrix.user_id"]
    assert "set matrix.password or matrix.access_token" in found["matrix.access_token"]
    assert "sqlite+aiosqlite" in found["storage.database_url"]
    assert "did you mean Europe/Amsterdam" in found["bot.timezone"]
    assert found["bot.colour"].startswith("unknown key")
    assert found["extras"].startswith("unknown key")


def test_a_wrong_type_or_a_value_out_of_bounds_reads_plainly(tmp_path: Path) -> None:
    found = problems(write(tmp_path, {
        "matrix": {**GOOD["matrix"], "encryption": "maybe", "retry_max_seconds": 100},
        "bot": {"command_max_age_seconds": "soon", "log_level": "TRACE", "command_prefix": "", "coordinators": "@a:b"},
        "networks": [{"id": "North", "name": "North", "polls": {"topic_votes": 0}}],
        "methods": [3],
    }))
    assert found == {
        "matrix.encryption": "should be true or false",
        "matrix.retry_max_seconds": "should be at most 60",
        "bot.command_max_age_seconds": "should be a whole number",
        "bot.log_level": "should be one of DEBUG, INFO, WARNING, ERROR",
        "bot.command_prefix": "should have at least 1 character(s)",
        "bot.coordinators": "should be a list",
        "networks.0.id": "should match the pattern '^[a-z0-9][a-z0-9-]{1,31}$'",
        "networks.0.polls.topic_votes": "should be at least 1",
        "methods.0": "should be text or a mapping",
    }


def test_a_missing_matrix_section_is_named(tmp_path: Path) -> None:
    assert problems(write(tmp_path, {"bot": {"language": "en"}})) == {"matrix": "required key is missing"}


def test_an_empty_file_says_what_is_missing(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "")) == {"matrix": "required key is missing"}


def test_missing_credentials_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, {"matrix": {"homeserver": "https://m.example.org", "user_id": "@kring:example.org"}})
    found = problems(path)
    assert list(found) == ["matrix.access_token"]
    assert "KRING__MATRIX__PASSWORD" in found["matrix.access_token"]


def test_an_access_token_is_enough(tmp_path: Path) -> None:
    path = write(tmp_path, {"matrix": {"homeserver": "https://m.example.org", "user_id": "@kring:example.org",
                                       "access_token": "syt_token"}})
    assert load_config(path, environ={}).matrix.access_token.get_secret_value() == "syt_token"


def test_an_unknown_network_timezone_suggests_a_close_name(tmp_path: Path) -> None:
    data = {**GOOD, "networks": [{"id": "north", "name": "North", "timezone": "Europe/Osloo"}]}
    found = problems(write(tmp_path, data))
    assert list(found) == ["networks.0.timezone"]
    assert "unknown timezone 'Europe/Osloo'" in found["networks.0.timezone"]
    assert "Europe/Oslo" in found["networks.0.timezone"]


def test_a_language_is_one_with_a_catalogue(tmp_path: Path) -> None:
    data = {**GOOD, "bot": {"language": "fr"}, "networks": [{"id": "north", "name": "North", "language": "nl-BE"}]}
    found = problems(write(tmp_path, data))
    assert list(found) == ["bot.language"]
    assert "unknown language 'fr' (one of en, nb, nl)" in found["bot.language"]
    data = {**GOOD, "networks": [{"id": "north", "name": "North", "language": "nl-BE"}]}
    assert load_config(write(tmp_path, data), environ={}).networks[0].language == "nl"


def test_a_timezone_nothing_like_a_zone_gets_an_example(tmp_path: Path) -> None:
    data = {**GOOD, "bot": {"timezone": "Q"}}
    assert "IANA name like Europe/Amsterdam" in problems(write(tmp_path, data))["bot.timezone"]


def test_env_fills_the_password(tmp_path: Path) -> None:
    data = {"matrix": {"homeserver": "https://m.example.org", "user_id": "@kring:example.org"}}
    config = load_config(write(tmp_path, data), environ={"KRING__MATRIX__PASSWORD": SECRET})
    assert config.matrix.password.get_secret_value() == SECRET


def test_env_overrides_the_file_and_is_converted(tmp_path: Path) -> None:
    environ = {"KRING__STORAGE__DATABASE_URL": "postgresql+asyncpg://kring@db/kring",
               "KRING__MATRIX__ENCRYPTION": "false", "KRING__BOT__COMMAND_MAX_AGE_SECONDS": "120",
               "UNRELATED": "x"}
    config = load_config(write(tmp_path, GOOD), environ=environ)
    assert config.storage.database_url == "postgresql+asyncpg://kring@db/kring"
    assert config.matrix.encryption is False
    assert config.bot.command_max_age_seconds == 120


def test_a_misspelt_env_variable_is_reported_not_ignored(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD), environ={"KRING__MATRIX__PASWORD": "x"})
    assert list(found) == ["matrix.pasword"]


def test_secrets_never_show_in_repr_str_or_dump(tmp_path: Path) -> None:
    data = {**GOOD, "matrix": {**GOOD["matrix"], "access_token": "syt_" + SECRET,
                               "recovery_key": "rk-" + SECRET, "key_passphrase": "kp-" + SECRET}}
    config = load_config(write(tmp_path, data), environ={})
    for shown in (repr(config), str(config), repr(config.matrix), str(config.matrix),
                  str(as_dict(config)), str(as_dict(config.matrix))):
        assert SECRET not in shown
    assert config.matrix.key_passphrase.get_secret_value() == "kp-" + SECRET


def test_broken_yaml_is_located_without_quoting_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path, f'matrix:\n  homeserver: https://m.example.org\n  password: "{SECRET}\n  x: [\n')
    found = problems(path)
    assert list(found) == ["(file)"]
    assert "not valid YAML" in found["(file)"] and "line 3" in found["(file)"]
    assert SECRET not in found["(file)"]


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    assert "mapping" in problems(write(tmp_path, "- just\n- a list\n"))["(file)"]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    assert "cannot read" in problems(tmp_path / "nope.yaml")["(file)"]


# -- kring check-config -------------------------------------------------------------------------

def test_check_config_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"{path}: OK"
    assert "cross-signing keys" in out.splitlines()[1]  # and whether they are encrypted at rest
    assert err == ""


def test_check_config_lists_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KRING__MATRIX__PASSWORD", raising=False)
    path = write(tmp_path, {"matrix": {"homeserver": "ftp://x", "user_id": "@kring:example.org",
                                       "password": SECRET}, "bot": {"timezone": "Mars/Base"}})
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == f"{path}: 2 problem(s)"
    assert any(line.strip().startswith("matrix.homeserver:") for line in lines[1:])
    assert any(line.strip().startswith("bot.timezone: unknown timezone 'Mars/Base'") for line in lines[1:])
    assert SECRET not in err


def test_check_config_reads_secrets_from_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"matrix": {"homeserver": "https://m.example.org", "user_id": "@kring:example.org"}})
    monkeypatch.delenv("KRING__MATRIX__PASSWORD", raising=False)
    assert main(["check-config", str(path)]) == 2
    capsys.readouterr()
    monkeypatch.setenv("KRING__MATRIX__PASSWORD", SECRET)
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err


def test_the_example_config_validates(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    example = REPO / "config.example.yaml"
    for name in [n for n in os.environ if n.startswith("KRING__")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KRING__MATRIX__PASSWORD", "from-the-environment")  # how the example says to give it
    code = main(["check-config", str(example)])
    out, err = capsys.readouterr()
    assert code == 0, err


def test_methods_added_in_config_are_read_from_files_and_inline_and_checked_at_start(tmp_path: Path) -> None:
    (tmp_path / "methods").mkdir()
    (tmp_path / "methods" / "fishbowl.yaml").write_text(
        "name: {en: Fishbowl, nl: Vissenkom}\ndescription: An inner and an outer circle.\n"
        "phases:\n  - title: Inner circle\n    instruction: Four talk, the rest listen.\n", encoding="utf-8")
    inline = {"key": "check-in", "name": "Check-in", "description": "A round.",
              "phases": [{"title": "Round", "instruction": "Say how you arrive.", "round": True}]}
    config = load_config(write(tmp_path, {**GOOD, "methods": ["methods/fishbowl.yaml", inline]}), environ={})
    from bot.config import methods_of
    assert sorted(methods_of(config)) == ["check-in", "fishbowl"], "a file relative to the config, and inline"
    bad = {**inline, "phases": [{"title": "Round", "instruction": "x", "written": True}]}
    found = problems(write(tmp_path, {**GOOD, "methods": [inline, bad]}))
    assert list(found) == ["methods.1"]
    assert "there is already a method 'check-in'" in found["methods.1"]
    found = problems(write(tmp_path, {**GOOD, "methods": [{**bad, "key": "other"}]}))
    assert "phase 1: a written phase is a round (add round: true)" in found["methods.0"]
    assert "cannot read" in problems(write(tmp_path, {**GOOD, "methods": ["nowhere.yaml"]}))["methods.0"]
