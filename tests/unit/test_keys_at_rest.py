"""Without matrix.key_passphrase the cross-signing keys are kept unencrypted, readable by the
owner only; with one, encrypted as before. `kring check-config` says which it will be."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.matrix.crosssign_keys import (CrossSigningKeys, KeysFileError, keys_file_encrypted, load_keys_file,
                                       save_keys_file)

USER = "@kring:example.org"


def test_keys_without_a_passphrase_are_kept_plain_and_private(tmp_path: Path) -> None:
    path = tmp_path / "store" / "cross_signing.keys"
    keys = CrossSigningKeys.generate()
    save_keys_file(path, keys, None, USER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and keys_file_encrypted(path) is False
    loaded = load_keys_file(path, None, USER)
    assert loaded.self_signing.seed == keys.self_signing.seed and loaded.ssss_key == keys.ssss_key
    with pytest.raises(KeysFileError, match="another account"):
        load_keys_file(path, None, "@other:example.org")


def test_encrypted_keys_need_the_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "cross_signing.keys"
    save_keys_file(path, CrossSigningKeys.generate(), "a passphrase", USER)
    assert keys_file_encrypted(path) is True
    with pytest.raises(KeysFileError, match="set matrix.key_passphrase"):
        load_keys_file(path, None, USER)


@pytest.mark.parametrize("passphrase, says", [
    (None, "NOT encrypted at rest"), ("kp-secret-value", "encrypted at rest with matrix.key_passphrase")])
def test_check_config_says_whether_the_keys_are_encrypted_at_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        passphrase: str | None, says: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"matrix:\n  homeserver: https://matrix.example.org\n  user_id: '{USER}'\n"
                      f"  password: pw\n  store_path: {tmp_path / 'store'}\n")
    monkeypatch.delenv("KRING__MATRIX__KEY_PASSPHRASE", raising=False)
    if passphrase:
        monkeypatch.setenv("KRING__MATRIX__KEY_PASSPHRASE", passphrase)
    assert main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert says in out and str(tmp_path / "store" / "cross_signing.keys") in out
    assert "kp-secret-value" not in out
