"""The pure crypto of bot.matrix.crosssign, checked against published test vectors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bot.matrix.crosssign import (
    CrossSigningKeys,
    KeysFileError,
    SigningKey,
    b64decode,
    b64encode,
    canonical_json,
    decode_recovery_key,
    encode_recovery_key,
    load_keys_file,
    save_keys_file,
    ssss_decrypt,
    ssss_encrypt,
    ssss_key_info,
    ssss_key_matches,
    verify_signature,
)

# Matrix spec, appendices "Signing details" test vectors.
SPEC_SEED = b64decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
SPEC_SIG_EMPTY = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
SPEC_SIG_DATA = "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"

# matrix-rust-sdk crates/matrix-sdk-crypto/src/secret_storage.rs tests.
RUST_KEY_TEXT = "EsT           pRvZTnjck8    YrhRAtw XLS84Nr2r9S9LGAWDaExVAPBvLRK   "
RUST_KEY_BYTES = bytes(
    [159, 189, 70, 187, 52, 81, 113, 198, 246, 2, 44, 154, 37, 213, 104, 27,
     165, 78, 236, 106, 108, 73, 83, 243, 173, 192, 185, 110, 157, 145, 173, 163]
)  # fmt: skip
RUST_CHECKED_KEY = "EsTj 3yST y93F SLpB jJsz eAXc 2XzA ygD3 w69H fGaN TKBj jXEd"
RUST_CHECKED_INFO = {
    "algorithm": "m.secret_storage.v1.aes-hmac-sha2",
    "iv": "xv5b6/p3ExEw++wTyfSHEg==",
    "mac": "ujBBbXahnTAMkmPUX2/0+VTfUh63pGyVRuBcDMgmJC8=",
}

USER = "@kring:example.org"


# -- canonical JSON and signatures -------------------------------------------


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_utf8() -> None:
    value = {"b": 2, "a": {"z": [1, {"y": None, "x": True}], "é": "日本"}}
    assert canonical_json(value) == '{"a":{"z":[1,{"x":true,"y":null}],"é":"日本"},"b":2}'.encode()


def test_base64_is_unpadded_and_decodes_both_forms() -> None:
    assert b64encode(b"ab") == "YWI"
    assert b64decode("YWI") == b64decode("YWI=") == b"ab"


def test_signatures_match_the_spec_test_vectors() -> None:
    key = SigningKey(SPEC_SEED)
    assert key.sign({}) == SPEC_SIG_EMPTY
    assert key.sign({"one": 1, "two": "Two"}) == SPEC_SIG_DATA


def test_signing_ignores_signatures_and_unsigned() -> None:
    key = SigningKey(SPEC_SEED)
    obj = {"one": 1, "two": "Two", "unsigned": {"x": 1}, "signatures": {"@a:b": {"ed25519:X": "s"}}}
    assert key.sign(obj) == SPEC_SIG_DATA


def test_sign_into_adds_a_signature_that_verifies_with_the_public_key() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    device = {
        "user_id": USER,
        "device_id": "DEV",
        "keys": {"ed25519:DEV": "abc"},
        "signatures": {USER: {"ed25519:DEV": "device-self-signature"}},
        "unsigned": {"device_display_name": "Kring"},
    }
    signed = key.sign_into(device, USER)
    assert "unsigned" not in signed
    assert signed["signatures"][USER]["ed25519:DEV"] == "device-self-signature"
    assert key.key_id == f"ed25519:{key.public}" and len(b64decode(key.public)) == 32
    assert verify_signature(signed, USER, key.public)
    assert not verify_signature(signed, USER, other.public)
    assert not verify_signature({**signed, "device_id": "OTHER"}, USER, key.public)
    assert not verify_signature(signed, "@someone:else", key.public)
    tampered = bytearray(b64decode(signed["signatures"][USER][key.key_id]))
    tampered[10] ^= 1
    for signature in (b64encode(bytes(tampered)), "not base64!", "AAAA"):
        assert not verify_signature({**signed, "signatures": {USER: {key.key_id: signature}}}, USER, key.public)
    assert not verify_signature({**signed, "signatures": {USER: {"ed25519:!!": "AAAA"}}}, USER, "!!")
    assert device["signatures"][USER] == {"ed25519:DEV": "device-self-signature"}  # input untouched


# -- recovery key --------------------------------------------------------------


def test_recovery_key_decodes_the_rust_sdk_vector_ignoring_whitespace() -> None:
    assert decode_recovery_key(RUST_KEY_TEXT) == RUST_KEY_BYTES


def test_recovery_key_round_trip_and_format() -> None:
    text = encode_recovery_key(RUST_KEY_BYTES)
    assert text == "EsTp RvZT njck 8Yrh RAtw XLS8 4Nr2 r9S9 LGAW DaEx VAPB vLRK"
    key = bytes(range(32))
    text = encode_recovery_key(key)
    groups = text.split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
    assert decode_recovery_key(text) == key
    assert decode_recovery_key(text.replace(" ", "")) == key


def test_recovery_key_errors() -> None:
    with pytest.raises(ValueError, match="parity"):
        decode_recovery_key("EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk")
    with pytest.raises(ValueError, match="prefix"):
        decode_recovery_key("AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk")
    with pytest.raises(ValueError, match="length"):
        decode_recovery_key("AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9")
    with pytest.raises(ValueError, match="base58"):
        decode_recovery_key("AATpRvZTnjck8YrhRAtwXLS84Nr0OIl")


# -- secret storage ------------------------------------------------------------


def test_ssss_key_check_accepts_the_rust_sdk_vector() -> None:
    key = decode_recovery_key(RUST_CHECKED_KEY)
    assert ssss_key_matches(key, RUST_CHECKED_INFO)
    assert not ssss_key_matches(RUST_KEY_BYTES, RUST_CHECKED_INFO)
    assert not ssss_key_matches(key, {**RUST_CHECKED_INFO, "algorithm": "m.secret_storage.custom"})


def test_ssss_key_info_round_trip() -> None:
    key, other = bytes(32), bytes([1] * 32)
    info = ssss_key_info(key)
    assert info["algorithm"] == "m.secret_storage.v1.aes-hmac-sha2"
    assert len(b64decode(info["iv"])) == 16 and len(b64decode(info["mac"])) == 32
    assert ssss_key_matches(key, info)
    assert not ssss_key_matches(other, info)


def test_ssss_encrypt_decrypt_round_trip_and_mac_check() -> None:
    key = bytes(range(32))
    seed = b64encode(bytes(range(100, 132)))
    payload = ssss_encrypt(seed, key, "m.cross_signing.master")
    assert set(payload) == {"iv", "ciphertext", "mac"}
    assert b64decode(payload["iv"])[8] & 0x80 == 0  # bit 63 cleared
    assert ssss_decrypt(payload, key, "m.cross_signing.master") == seed.encode()

    with pytest.raises(ValueError, match="MAC"):
        ssss_decrypt(payload, bytes(32), "m.cross_signing.master")  # wrong key
    with pytest.raises(ValueError, match="MAC"):
        ssss_decrypt(payload, key, "m.cross_signing.self_signing")  # wrong secret name
    tampered = bytearray(b64decode(payload["ciphertext"]))
    tampered[0] ^= 1
    with pytest.raises(ValueError, match="MAC"):
        ssss_decrypt({**payload, "ciphertext": b64encode(bytes(tampered))}, key, "m.cross_signing.master")


def test_ssss_matches_an_independent_implementation() -> None:
    """Same bytes as HKDF/AES-CTR/HMAC from the `cryptography` package, per the spec steps."""
    hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
    hkdf = pytest.importorskip("cryptography.hazmat.primitives.kdf.hkdf")
    ciphers = pytest.importorskip("cryptography.hazmat.primitives.ciphers")
    hmac_mod = pytest.importorskip("cryptography.hazmat.primitives.hmac")

    key, iv, name, secret = bytes(range(32)), bytes(range(16, 32)), "m.cross_signing.user_signing", b"s3cr3t"
    okm = hkdf.HKDF(hashes.SHA256(), 64, salt=bytes(32), info=name.encode()).derive(key)
    enc = ciphers.Cipher(ciphers.algorithms.AES(okm[:32]), ciphers.modes.CTR(iv)).encryptor()
    ciphertext = enc.update(secret) + enc.finalize()
    mac = hmac_mod.HMAC(okm[32:], hashes.SHA256())
    mac.update(ciphertext)

    payload = ssss_encrypt(secret, key, name, iv=iv)
    assert b64decode(payload["ciphertext"]) == ciphertext
    assert b64decode(payload["mac"]) == mac.finalize()


# -- keys file -----------------------------------------------------------------


def test_keys_file_round_trip_is_private_and_has_no_plaintext(tmp_path: Path) -> None:
    keys = CrossSigningKeys.generate()
    path = tmp_path / "sub" / "cross_signing.json"
    save_keys_file(path, keys, "correct horse", USER)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert {"version", "salt", "nonce", "ciphertext", "tag"} <= set(doc)
    text = path.read_text()
    for k in (keys.master, keys.self_signing, keys.user_signing):
        assert k is not None and b64encode(k.seed) not in text

    loaded = load_keys_file(path, "correct horse", USER)
    assert loaded.by_usage().keys() == keys.by_usage().keys()
    for usage, key in keys.by_usage().items():
        assert key is not None and loaded.by_usage()[usage].seed == key.seed  # type: ignore[union-attr]
    assert (loaded.ssss_key_id, loaded.ssss_key) == (keys.ssss_key_id, keys.ssss_key)
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left behind


def test_keys_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with pytest.raises(KeysFileError, match="no keys file"):
        load_keys_file(path, "pw", USER)

    save_keys_file(path, CrossSigningKeys(self_signing=SigningKey.generate()), "pw", USER)
    with pytest.raises(KeysFileError, match="wrong passphrase"):
        load_keys_file(path, "not the passphrase", USER)
    with pytest.raises(KeysFileError, match="another account"):
        load_keys_file(path, "pw", "@other:example.org")

    doc = json.loads(path.read_text())
    doc["tag"] = b64encode(bytes(16))
    path.write_text(json.dumps(doc))
    with pytest.raises(KeysFileError, match="cannot decrypt"):
        load_keys_file(path, "pw", USER)

    path.write_text("not json")
    with pytest.raises(KeysFileError, match="unreadable"):
        load_keys_file(path, "pw", USER)
