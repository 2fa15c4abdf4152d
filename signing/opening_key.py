"""A tender's opening key: made at publication, held only as k-of-n shares by the officers.

``generate_opening_key`` makes an X25519 key pair, splits the 32 private-key bytes with Shamir
(``signing.shamir``, 2-of-3 by default among the agency, the supervisor and the centre) and
encrypts each share to its officer's encryption key with HPKE. What it returns is public
throughout: the public key bidders seal to, the encrypted shares and their commitments. The
private key is never returned, written, logged or stored: only the shares exist once this
returns. At the opening each officer decrypts its share locally (``decrypt_share``) and the
platform, after the deadline, rebuilds the key in memory (``recover_private_key``), opens the
bids and lets it go. docs/opening-key.md has the procedure and the JSON form.

X25519 rather than P-256: any 32 bytes are a valid X25519 private key, so the shared secret is
the key itself, with no scalar range to check; ``signing.sealed`` wraps to either.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from kernel.errors import DomainError
from signing import shamir
from signing.pki.subjects import OFFICER_ROLES, OfficerRole
from signing.sealed import keys
from signing.sealed.format import HPKE_X25519, canonical_json
from signing.shamir import Share, ShareRefused

__all__ = [
    "FORMAT_NAME",
    "EncryptedShare",
    "MalformedSetup",
    "OfficerRecipient",
    "OpeningKeyMismatch",
    "OpeningKeySetup",
    "ShareForAnotherTender",
    "WrongOfficerKey",
    "decrypt_share",
    "generate_opening_key",
    "recover_private_key",
    "verify_share",
]

FORMAT_NAME = "ebid-opening-key"
VERSION = 1
SHARING = "shamir-gf256-sha256-v1"
OPENING_ALGORITHM = HPKE_X25519  # what bidders wrap their data keys with
_SHARE_INFO_LABEL = "ebid-opening-share"
_SUITES = keys.HPKE_SUITES


# --- refusals -------------------------------------------------------------------------------


class ShareForAnotherTender(ShareRefused):
    code = "share_for_another_tender"
    zh = "该密钥份额属于项目 {share_tender}，而不是 {tender}"
    en = "This key share belongs to tender {share_tender}, not {tender}"

    def __init__(self, *, share_tender: str, tender: str) -> None:
        super().__init__(share_tender=share_tender, tender=tender)


class WrongOfficerKey(ShareRefused):
    code = "wrong_officer_key"
    zh = "该私钥无法解密第 {index} 份开标密钥份额：{reason_zh}"
    en = "This private key does not decrypt opening key share {index}: {reason}"

    def __init__(self, *, index: int, reason: str, reason_zh: str) -> None:
        super().__init__(index=index, reason=reason, reason_zh=reason_zh)


class OpeningKeyMismatch(ShareRefused):
    code = "opening_key_mismatch"
    zh = "由份额恢复出的私钥与公布的开标公钥 {key_id} 不符"
    en = "The key rebuilt from the shares does not match the published opening key {key_id}"

    def __init__(self, *, key_id: str) -> None:
        super().__init__(key_id=key_id)


class MalformedSetup(DomainError):
    status_code = 400
    code = "malformed_opening_key_setup"
    zh = "开标密钥设置格式错误：{reason}"
    en = "The opening key setup is malformed: {reason}"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)


# --- the records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OfficerRecipient:
    """An opening officer and the key its share is encrypted to (P-256 or X25519, or a cert)."""

    name: str
    role: OfficerRole
    encryption_public_key: keys.RecipientPublicKey | x509.Certificate


@dataclass(frozen=True)
class EncryptedShare:
    """One officer's share, HPKE-encrypted to its key; public, like everything in the setup."""

    tender: str
    opening_key_id: str  # the key this is a share of
    index: int
    threshold: int
    officer: str
    role: OfficerRole
    commitment: str  # shamir.commitment of the plaintext share
    alg: str  # HPKE suite identifier, as in the sealed-bid format
    key_id: str  # SHA-256 of the officer's encryption key (SubjectPublicKeyInfo DER), hex
    enc: bytes = field(repr=False)
    ct: bytes = field(repr=False)

    def info(self) -> bytes:
        """HPKE ``info``: binds the share to its tender, opening key, index, threshold, role."""
        return canonical_json([_SHARE_INFO_LABEL, VERSION, self.tender, self.opening_key_id,
                               self.index, self.threshold, self.role])

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "officer": self.officer, "role": self.role,
                "commitment": self.commitment, "alg": self.alg, "key_id": self.key_id,
                "enc": _b64(self.enc), "ct": _b64(self.ct)}


@dataclass(frozen=True)
class OpeningKeySetup:
    """Everything the platform keeps about a tender's opening key; all of it is public."""

    tender: str
    created_at: datetime
    public_key: x25519.X25519PublicKey
    threshold: int
    shares: tuple[EncryptedShare, ...]

    @property
    def key_id(self) -> str:
        """As ``wraps[].key_id`` of an opening wrap sealed to this key."""
        return keys.key_id(self.public_key)

    @property
    def n(self) -> int:
        return len(self.shares)

    @property
    def commitments(self) -> dict[int, str]:
        return {share.index: share.commitment for share in self.shares}

    def share_for(self, officer: str) -> EncryptedShare:
        for share in self.shares:
            if share.officer == officer:
                return share
        raise LookupError(f"no share of the opening key of {self.tender} is held by {officer}")

    def public_key_pem(self) -> str:
        """The key to publish with the announcement."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
        ).decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME, "version": VERSION, "tender": self.tender,
            "created_at": self.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "algorithm": OPENING_ALGORITHM, "sharing": SHARING,
            "public_key": self.public_key_pem(), "key_id": self.key_id,
            "threshold": self.threshold, "shares": [share.to_dict() for share in self.shares],
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict()).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> OpeningKeySetup:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedSetup(f"not JSON: {error}") from error
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> OpeningKeySetup:
        """Parse and check a stored setup; MalformedSetup naming what is wrong."""
        try:
            return _parse(data)
        except (KeyError, TypeError, ValueError, UnsupportedAlgorithm) as error:
            # binascii.Error (bad base64) is a ValueError; so is a bad PEM or date.
            raise MalformedSetup(f"{type(error).__name__}: {error}") from error


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise MalformedSetup("a base64 field is not a string")
    return base64.b64decode(text, validate=True)


_KINDS = {int: "an integer", str: "a string", list: "a list"}


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedSetup(f"{name!r} is not {_KINDS[kind]}")
    return value


def _parse(data: Any) -> OpeningKeySetup:
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise MalformedSetup(f"not an {FORMAT_NAME} object")
    for name, expected in (("version", VERSION), ("algorithm", OPENING_ALGORITHM),
                           ("sharing", SHARING)):
        if data.get(name) != expected:
            raise MalformedSetup(f"unsupported {name} {data.get(name)!r}")
    tender = _field(data, "tender", str)
    public_key = serialization.load_pem_public_key(_field(data, "public_key", str).encode())
    if not isinstance(public_key, x25519.X25519PublicKey):
        raise MalformedSetup("the public key is not an X25519 key")
    opening_key_id = keys.key_id(public_key)
    if _field(data, "key_id", str) != opening_key_id:
        raise MalformedSetup("key_id is not the SHA-256 of the public key")
    created_at = datetime.fromisoformat(_field(data, "created_at", str))
    if created_at.tzinfo is None:
        raise MalformedSetup("created_at has no time zone")
    threshold = _field(data, "threshold", int)
    shares = tuple(
        EncryptedShare(
            tender=tender, opening_key_id=opening_key_id, index=_field(item, "index", int),
            threshold=threshold, officer=_field(item, "officer", str),
            role=_field(item, "role", str), commitment=_field(item, "commitment", str),
            alg=_field(item, "alg", str), key_id=_field(item, "key_id", str),
            enc=_unb64(item["enc"]), ct=_unb64(item["ct"]),
        )
        for item in _field(data, "shares", list)
    )
    _check_shape(threshold, [(s.index, s.officer, s.role, s.alg, s.key_id) for s in shares])
    return OpeningKeySetup(tender=tender, created_at=created_at, public_key=public_key,
                           threshold=threshold, shares=shares)


def _check_shape(threshold: int, shares: Sequence[tuple[int, str, str, str, str]]) -> None:
    """The rules a setup keeps, whether made here or read back: why else it is refused."""
    if not 2 <= threshold <= len(shares) <= shamir.MAX_SHARES:
        raise MalformedSetup(f"need 2 <= k <= n <= {shamir.MAX_SHARES}, "
                             f"not k={threshold}, n={len(shares)}")
    if [index for index, *_ in shares] != list(range(1, len(shares) + 1)):
        raise MalformedSetup("the shares are not numbered 1..n in order")
    if len({officer for _, officer, *_ in shares}) != len(shares):
        raise MalformedSetup("two shares are held by the same officer")
    if len({key_id for *_, key_id in shares}) != len(shares):
        raise MalformedSetup("two shares are encrypted to the same key")
    for _, officer, role, alg, _ in shares:
        if role not in OFFICER_ROLES:
            raise MalformedSetup(f"{officer} has the unknown role {role!r}")
        if alg not in _SUITES:
            raise MalformedSetup(f"the share of {officer} uses the unknown suite {alg!r}")


# --- making, opening, recovering ------------------------------------------------------------


def _encryption_key(officer: OfficerRecipient) -> keys.RecipientPublicKey:
    key = officer.encryption_public_key
    public_key = key.public_key() if isinstance(key, x509.Certificate) else key
    keys.algorithm_for(public_key)  # P-256 or X25519, or UnsupportedAlgorithm
    return public_key  # type: ignore[return-value]


def generate_opening_key(
    *, officers: Sequence[OfficerRecipient], k: int = 2, tender_id: str, now: datetime,
) -> OpeningKeySetup:
    """A new opening key for ``tender_id``, k-of-n shared among ``officers``; keeps no secret.

    The private key lives only inside this call: it is split, each share is encrypted to its
    officer, a self-check rebuilds it from k shares at a time, and it is dropped. CPython
    cannot wipe memory, so its bytes linger in the heap until reused; run this in a worker,
    not a long-lived process holding other secrets, if that matters.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not tender_id:
        raise ValueError("tender_id must not be empty")
    recipients = [(officer, _encryption_key(officer)) for officer in officers]
    _check_shape(k, [(index, officer.name, officer.role, keys.algorithm_for(key),
                      keys.key_id(key)) for index, (officer, key) in enumerate(recipients, 1)])
    private_key = x25519.X25519PrivateKey.generate()
    public_key = private_key.public_key()
    opening_key_id = keys.key_id(public_key)
    secret = private_key.private_bytes_raw()
    shares = shamir.split(secret, k, len(recipients))
    encrypted = []
    for share, (officer, key) in zip(shares, recipients, strict=True):
        alg = keys.algorithm_for(key)
        pending = EncryptedShare(
            tender=tender_id, opening_key_id=opening_key_id, index=share.index, threshold=k,
            officer=officer.name, role=officer.role, commitment=shamir.commitment(share),
            alg=alg, key_id=keys.key_id(key), enc=b"", ct=b"",
        )
        suite, enc_length = _SUITES[alg]
        sealed = suite.encrypt(share.value, key, info=pending.info())
        encrypted.append(_with_ciphertext(pending, sealed, enc_length))
    setup = OpeningKeySetup(tender=tender_id, created_at=now, public_key=public_key,
                            threshold=k, shares=tuple(encrypted))
    # Every share takes part in at least one rebuild before the key is gone for good.
    n = len(shares)
    for start in range(n):
        window = [shares[(start + offset) % n] for offset in range(k)]
        if recover_private_key(window, setup).private_bytes_raw() != secret:
            raise RuntimeError("the opening key shares do not rebuild the key")
    return setup


def _with_ciphertext(share: EncryptedShare, sealed: bytes, enc_length: int) -> EncryptedShare:
    return EncryptedShare(
        tender=share.tender, opening_key_id=share.opening_key_id, index=share.index,
        threshold=share.threshold, officer=share.officer, role=share.role,
        commitment=share.commitment, alg=share.alg, key_id=share.key_id,
        enc=sealed[:enc_length], ct=sealed[enc_length:],
    )


def decrypt_share(encrypted_share: EncryptedShare, officer_private_key: keys.RecipientPrivateKey,
                  tender_id: str) -> Share:
    """The officer's plaintext share of ``tender_id``'s opening key; dangerous to log or store.

    Meant to run on the officer's own machine: the share should leave it only when submitted
    after the deadline.
    """
    if encrypted_share.tender != tender_id:
        raise ShareForAnotherTender(share_tender=encrypted_share.tender, tender=tender_id)
    index = encrypted_share.index
    kind = keys.algorithm_for(officer_private_key)
    if kind != encrypted_share.alg:
        raise WrongOfficerKey(index=index,
                              reason=f"the share uses {encrypted_share.alg}, the key {kind}",
                              reason_zh=f"份额使用 {encrypted_share.alg}，而该密钥用于 {kind}")
    if keys.key_id(officer_private_key.public_key()) != encrypted_share.key_id:
        prefix = encrypted_share.key_id[:16]
        raise WrongOfficerKey(index=index,
                              reason=f"it was encrypted to key {prefix}..., not this one",
                              reason_zh=f"它加密给密钥 {prefix}...，而不是这把密钥")
    suite, _ = _SUITES[encrypted_share.alg]
    try:
        value = suite.decrypt(encrypted_share.enc + encrypted_share.ct, officer_private_key,
                              info=encrypted_share.info())
    except (InvalidTag, ValueError) as error:
        raise WrongOfficerKey(
            index=index, reason="HPKE decryption failed (the share or its fields were altered)",
            reason_zh="HPKE 解密失败（份额或其字段已被改动）",
        ) from error
    return Share(index=index, value=value, threshold=encrypted_share.threshold)


def verify_share(share: Share, setup: OpeningKeySetup) -> Share:
    """``share`` if it is the one dealt under its index; check each share as it is submitted."""
    if share.threshold != setup.threshold:
        raise shamir.InconsistentShares(
            f"share {share.index} names threshold {share.threshold}, not {setup.threshold}",
            f"第 {share.index} 份份额所载门限为 {share.threshold}，而不是 {setup.threshold}",
        )
    return shamir.verify(share, setup.commitments)


def recover_private_key(shares: Iterable[Share],
                        setup: OpeningKeySetup) -> x25519.X25519PrivateKey:
    """DANGEROUS: the whole opening private key; hold it in memory only, never store it.

    Needs at least k shares of this setup; each is checked against its commitment (naming a
    bad one), the result against the checksum and against the published public key.
    """
    given = [verify_share(share, setup) for share in shares]
    secret = shamir.combine(given, commitments=setup.commitments)
    private_key = x25519.X25519PrivateKey.from_private_bytes(secret)
    if private_key.public_key() != setup.public_key:
        raise OpeningKeyMismatch(key_id=setup.key_id)
    return private_key
