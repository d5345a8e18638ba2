"""The key material of Kring's cross-signing, without any network: canonical JSON and Ed25519
signatures, the recovery key format, secret-storage (SSSS) encryption, and the keys file (encrypted
with the passphrase when one is set). bot/matrix/crosssign.py uses these to talk to the homeserver."""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import string
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import vodozemac
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF, scrypt

MASTER, SELF_SIGNING, USER_SIGNING = "master", "self_signing", "user_signing"
USAGES = (MASTER, SELF_SIGNING, USER_SIGNING)
SSSS_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
RECOVERY_KEY_PREFIX = b"\x8b\x01"
KEYS_FILE_VERSION = 1
_KEYS_FILE_AAD = b"kring cross-signing keys v1"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class CrossSigningError(Exception):
    """The homeserver refused or failed a cross-signing request."""


class KeysFileError(Exception):
    """The keys file is missing, corrupt, for another account or the passphrase is wrong."""


@dataclass
class CrossSigningStatus:
    device_signed: bool  # our device carries a valid self-signing-key signature on the server now
    created_keys: bool  # this call created new cross-signing keys
    new_recovery_key: str | None  # set only when keys were just created: show it to the operator once
    detail: str  # short human sentence for logs/!status (no secrets)


# -- encodings ---------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix uses it."""
    return base64.b64encode(data).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    """Standard base64, padded or not."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _signable(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


# -- Ed25519 -----------------------------------------------------------------


class SigningKey:
    """An Ed25519 key pair kept as its 32-byte seed. pycryptodome's eddsa (with its elliptic-curve
    modules, ~1 MiB) loads here, when keys are made or restored, not at a start that only checks."""

    def __init__(self, seed: bytes) -> None:
        from Crypto.Signature import eddsa

        if len(seed) != 32:
            raise ValueError("an Ed25519 seed has 32 bytes")
        self.seed = seed
        self._key = eddsa.import_private_key(seed)
        self.public = b64encode(self._key.public_key().export_key(format="raw"))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> str:
        """Signature of obj's canonical JSON without signatures/unsigned."""
        from Crypto.Signature import eddsa

        return b64encode(eddsa.new(self._key, "rfc8032").sign(_signable(obj)))

    def sign_into(self, obj: dict[str, Any], user_id: str) -> dict[str, Any]:
        """A copy of obj with our signature added under signatures.user_id."""
        signed = {k: v for k, v in obj.items() if k != "unsigned"}
        sigs = {u: dict(s) for u, s in obj.get("signatures", {}).items()}
        sigs.setdefault(user_id, {})[self.key_id] = self.sign(obj)
        signed["signatures"] = sigs
        return signed

    def __repr__(self) -> str:
        return f"SigningKey({self.key_id})"


def verify_signature(obj: dict[str, Any], user_id: str, public: str) -> bool:
    """True if obj carries a valid signature by the Ed25519 key `public` for user_id. Checked with
    vodozemac, which nio's encryption has loaded already (every start checks the device's signature)."""
    sig = obj.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public}")
    if not isinstance(sig, str):
        return False
    try:
        key = vodozemac.Ed25519PublicKey.from_base64(public)
        key.verify_signature(_signable(obj), vodozemac.Ed25519Signature.from_base64(sig))
    except (ValueError, TypeError):  # vodozemac's KeyException and SignatureException are ValueErrors
        return False
    return True


# -- recovery key (https://spec.matrix.org/latest/client-server-api/#key-representation)


def _base58_encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = _BASE58[rem] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def _base58_decode(text: str) -> bytes:
    num = 0
    for ch in text:
        idx = _BASE58.find(ch)
        if idx < 0:
            raise ValueError("recovery key has a character that is not base58")
        num = num * 58 + idx
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def _parity(data: bytes) -> int:
    parity = 0
    for byte in data:
        parity ^= byte
    return parity


def encode_recovery_key(key: bytes) -> str:
    """The 32-byte secret storage key as Element shows it: base58, groups of four."""
    if len(key) != 32:
        raise ValueError("a secret storage key has 32 bytes")
    raw = RECOVERY_KEY_PREFIX + key
    text = _base58_encode(raw + bytes([_parity(raw)]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """Reverse encode_recovery_key; whitespace is ignored. Raises ValueError."""
    raw = _base58_decode("".join(text.split()))
    if len(raw) != 35:
        raise ValueError("recovery key has the wrong length")
    if raw[:2] != RECOVERY_KEY_PREFIX:
        raise ValueError("recovery key has the wrong prefix")
    if _parity(raw) != 0:
        raise ValueError("recovery key parity check failed (typo?)")
    return raw[2:34]


# -- secret storage (m.secret_storage.v1.aes-hmac-sha2) ----------------------


def _ssss_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    aes_key, mac_key = HKDF(key, 32, b"\0" * 32, SHA256, num_keys=2, context=name.encode())
    return aes_key, mac_key


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def ssss_encrypt(secret: str | bytes, key: bytes, name: str, iv: bytes | None = None) -> dict[str, str]:
    """Encrypt one secret for account data: {iv, ciphertext, mac}, base64."""
    if iv is None:
        iv = bytearray(secrets.token_bytes(16))
        iv[8] &= 0x7F  # clear bit 63: some AES-CTR implementations wrap at 64 bits
        iv = bytes(iv)
    plaintext = secret.encode() if isinstance(secret, str) else secret
    aes_key, mac_key = _ssss_keys(key, name)
    ciphertext = _aes_ctr(aes_key, iv, plaintext)
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    return {"iv": b64encode(iv), "ciphertext": b64encode(ciphertext), "mac": b64encode(mac)}


def ssss_decrypt(payload: dict[str, Any], key: bytes, name: str) -> bytes:
    """Check the MAC and decrypt; raises ValueError if the key or data is wrong."""
    try:
        iv, ciphertext, mac = (b64decode(payload[f]) for f in ("iv", "ciphertext", "mac"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("malformed secret storage payload") from exc
    if len(iv) != 16:
        raise ValueError("secret storage iv must have 16 bytes")
    aes_key, mac_key = _ssss_keys(key, name)
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, sha256).digest(), mac):
        raise ValueError("secret storage MAC check failed (wrong key?)")
    return _aes_ctr(aes_key, iv, ciphertext)


def ssss_key_info(key: bytes) -> dict[str, str]:
    """Content of m.secret_storage.key.<id>: lets clients check a typed-in key."""
    check = ssss_encrypt(b"\0" * 32, key, "")
    return {"algorithm": SSSS_ALGORITHM, "iv": check["iv"], "mac": check["mac"]}


def ssss_key_matches(key: bytes, info: dict[str, Any]) -> bool:
    """True if key is the one described by an m.secret_storage.key.* content."""
    if info.get("algorithm") != SSSS_ALGORITHM or "iv" not in info or "mac" not in info:
        return False
    try:
        expected = ssss_encrypt(b"\0" * 32, key, "", iv=b64decode(info["iv"]))
        return hmac.compare_digest(b64decode(expected["mac"]), b64decode(info["mac"]))
    except (TypeError, ValueError):
        return False


# -- keys file ---------------------------------------------------------------


@dataclass
class CrossSigningKeys:
    """Private cross-signing keys (master and user-signing may be unknown after a restore)."""

    self_signing: SigningKey
    master: SigningKey | None = None
    user_signing: SigningKey | None = None
    ssss_key_id: str | None = None
    ssss_key: bytes | None = None

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            master=SigningKey.generate(),
            self_signing=SigningKey.generate(),
            user_signing=SigningKey.generate(),
            ssss_key_id="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
            ssss_key=secrets.token_bytes(32),
        )

    def by_usage(self) -> dict[str, SigningKey | None]:
        return {MASTER: self.master, SELF_SIGNING: self.self_signing, USER_SIGNING: self.user_signing}


def _kdf(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    return scrypt(passphrase.encode(), salt, 32, N=params["n"], r=params["r"], p=params["p"])


def save_keys_file(path: Path, keys: CrossSigningKeys, passphrase: str | None, user_id: str) -> None:
    """Write keys encrypted with scrypt(passphrase) + AES-GCM, mode 0600, atomically. Without a
    passphrase they are written unencrypted ("kdf": "none"), readable by the owner only."""
    plain = {
        "user_id": user_id,
        **{usage: b64encode(k.seed) if k else None for usage, k in keys.by_usage().items()},
        "ssss_key_id": keys.ssss_key_id,
        "ssss_key": b64encode(keys.ssss_key) if keys.ssss_key else None,
    }
    if not passphrase:
        _write_private(Path(path), json.dumps({"version": KEYS_FILE_VERSION, "kdf": "none", "keys": plain},
                                              indent=2) + "\n")
        return
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    cipher = AES.new(_kdf(passphrase, salt, _SCRYPT), AES.MODE_GCM, nonce=nonce)
    cipher.update(_KEYS_FILE_AAD)
    ciphertext, tag = cipher.encrypt_and_digest(json.dumps(plain).encode())
    doc = {
        "version": KEYS_FILE_VERSION,
        "kdf": "scrypt",
        **_SCRYPT,
        "salt": b64encode(salt),
        "nonce": b64encode(nonce),
        "ciphertext": b64encode(ciphertext),
        "tag": b64encode(tag),
    }
    _write_private(Path(path), json.dumps(doc, indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_keys_file(path: Path, passphrase: str | None, user_id: str) -> CrossSigningKeys:
    """Read a keys file written by save_keys_file (decrypting it); raises KeysFileError."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise KeysFileError(f"no keys file at {path}") from exc
    except (OSError, ValueError) as exc:
        raise KeysFileError(f"keys file {path} is unreadable") from exc
    if not isinstance(doc, dict) or doc.get("version") != KEYS_FILE_VERSION or doc.get("kdf") not in ("scrypt", "none"):
        raise KeysFileError(f"keys file {path} has an unknown format")
    if doc["kdf"] == "none":
        plain = doc.get("keys") if isinstance(doc.get("keys"), dict) else {}
    elif not passphrase:
        raise KeysFileError(f"keys file {path} is encrypted: set matrix.key_passphrase")
    else:
        try:
            key = _kdf(passphrase, b64decode(doc["salt"]), {p: int(doc[p]) for p in _SCRYPT})
            cipher = AES.new(key, AES.MODE_GCM, nonce=b64decode(doc["nonce"]))
            cipher.update(_KEYS_FILE_AAD)
            plain = json.loads(cipher.decrypt_and_verify(b64decode(doc["ciphertext"]), b64decode(doc["tag"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeysFileError(f"cannot decrypt keys file {path} (wrong passphrase?)") from exc
    if plain.get("user_id") != user_id:
        raise KeysFileError(f"keys file {path} belongs to another account")
    return _keys_from_plain(plain)


def keys_file_encrypted(path: Path) -> bool | None:
    """Whether the keys file is encrypted (None when there is none or it is unreadable)."""
    try:
        return json.loads(Path(path).read_text()).get("kdf") == "scrypt"
    except (OSError, ValueError, AttributeError):
        return None


def _keys_from_plain(plain: dict[str, Any]) -> CrossSigningKeys:
    def key(usage: str) -> SigningKey | None:
        return SigningKey(b64decode(plain[usage])) if plain.get(usage) else None

    ssk = key(SELF_SIGNING)
    if ssk is None:
        raise KeysFileError("keys file has no self-signing key")
    ssss_key = plain.get("ssss_key")
    return CrossSigningKeys(
        self_signing=ssk,
        master=key(MASTER),
        user_signing=key(USER_SIGNING),
        ssss_key_id=plain.get("ssss_key_id"),
        ssss_key=b64decode(ssss_key) if ssss_key else None,
    )


