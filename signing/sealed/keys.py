"""The data key: its commitment, its two HPKE wraps, and the split of "both keys needed".

"either" mode wraps the data key itself to the tender's opening key and to the bidder's
encryption key: either private key opens. "both" mode draws a random share, wraps it to the
opening key, and wraps (data key XOR share) to the bidder's key: each share alone is uniformly
random and tells nothing, so both private keys are needed.

The header carries a commitment to the data key (HMAC-SHA256 keyed with it over a fixed label).
AES-GCM is not key-committing; the commitment is what makes "the key the bidder sends at the
opening" and "the key the officers recover" provably the same key, and what lets the opener
say "wrong key" instead of "tampered segment".
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from signing.sealed.errors import UnsupportedAlgorithm, WrongDataKey, WrongRecipientKey
from signing.sealed.format import (
    FORMAT_NAME,
    HPKE_P256,
    HPKE_X25519,
    VERSION,
    KeyMode,
    Recipient,
    SealedHeader,
    Wrap,
    canonical_json,
)

RecipientPublicKey = ec.EllipticCurvePublicKey | x25519.X25519PublicKey
RecipientPrivateKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey

DATA_KEY_LENGTH = 32
_COMMITMENT_LABEL = b"ebid-sealed-bid key commitment v1"
# identifier -> (HPKE suite, length of the encapsulated key); the opening key uses it too.
HPKE_SUITES = {
    HPKE_P256: (Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM), 65),
    HPKE_X25519: (Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM), 32),
}


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_LENGTH)


def commitment(data_key: bytes) -> str:
    return hmac.new(data_key, _COMMITMENT_LABEL, hashlib.sha256).hexdigest()


def check_commitment(header: SealedHeader, data_key: bytes, *, source: str,
                     source_zh: str) -> bytes:
    """``data_key`` if the header commits to it, else WrongDataKey naming where it came from."""
    if len(data_key) != DATA_KEY_LENGTH:
        raise WrongDataKey(f"{source} is {len(data_key)} bytes long, not {DATA_KEY_LENGTH}",
                           f"{source_zh}长 {len(data_key)} 字节，而不是 {DATA_KEY_LENGTH}")
    if not hmac.compare_digest(commitment(data_key), header.key_commitment):
        raise WrongDataKey(f"{source} is not the key this package was sealed with",
                           f"{source_zh}不是封装该文件所用的密钥")
    return data_key


def algorithm_for(public_key: object) -> str:
    """The wrap identifier for a recipient key: DHKEM P-256 or X25519 (HPKE takes no RSA)."""
    if isinstance(public_key, x25519.X25519PublicKey | x25519.X25519PrivateKey):
        return HPKE_X25519
    if (isinstance(public_key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
            and isinstance(public_key.curve, ec.SECP256R1)):
        return HPKE_P256
    raise UnsupportedAlgorithm(what="encryption key", what_zh="加密密钥类型",
                               value=f"{type(public_key).__name__} (P-256 or X25519 needed)")


def key_id(public_key: RecipientPublicKey) -> str:
    """SHA-256 of the key's SubjectPublicKeyInfo DER, hex: names the key, not a certificate."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def wrap_info(*, which: Recipient, mode: KeyMode, tender: str, lot: str | None,
              key_commitment: str) -> bytes:
    """HPKE ``info``: binds a wrap to its recipient role, mode, tender, lot and data key."""
    return canonical_json([FORMAT_NAME, VERSION, which, mode, tender, lot, key_commitment])


def wrap(secret: bytes, public_key: RecipientPublicKey, *, which: Recipient,
         info: bytes) -> Wrap:
    alg = algorithm_for(public_key)
    suite, enc_length = HPKE_SUITES[alg]
    sealed = suite.encrypt(secret, public_key, info=info)
    return Wrap(to=which, alg=alg, key_id=key_id(public_key), enc=sealed[:enc_length],
                ct=sealed[enc_length:])


def unwrap(item: Wrap, private_key: RecipientPrivateKey, *, info: bytes) -> bytes:
    """The 32-byte secret of ``item``; WrongRecipientKey if ``private_key`` is not its key."""
    kind = algorithm_for(private_key)
    if kind != item.alg:
        raise WrongRecipientKey(
            which=item.to, reason=f"the wrap uses {item.alg}, the key is for {kind}",
            reason_zh=f"封装使用 {item.alg}，而该密钥用于 {kind}",
        )
    if key_id(private_key.public_key()) != item.key_id:
        raise WrongRecipientKey(
            which=item.to, reason=f"it was wrapped to key {item.key_id[:16]}..., not this one",
            reason_zh=f"它封装给密钥 {item.key_id[:16]}...，而不是这把密钥",
        )
    suite, _ = HPKE_SUITES[item.alg]
    try:
        secret = suite.decrypt(item.enc + item.ct, private_key, info=info)
    except (InvalidTag, ValueError) as error:
        raise WrongRecipientKey(which=item.to, reason="HPKE decryption failed",
                                reason_zh="HPKE 解密失败") from error
    if len(secret) != DATA_KEY_LENGTH:
        raise WrongRecipientKey(which=item.to, reason="the wrapped secret has the wrong length",
                                reason_zh="封装的密钥长度错误")
    return secret


def split(data_key: bytes) -> tuple[bytes, bytes]:
    """Two shares, each alone uniformly random, whose XOR is ``data_key``."""
    opening_share = os.urandom(DATA_KEY_LENGTH)
    return opening_share, join(data_key, opening_share)


def join(first: bytes, second: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(first, second, strict=True))
