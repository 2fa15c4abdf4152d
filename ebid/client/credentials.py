"""The holder's keys: PKCS#12 files (the signing certificate and its paired encryption
certificate, as Chinese CAs issue them and ``ebid pki issue`` writes them), and the X25519
encryption key ``ebid-client keygen`` makes when the CA issued no encryption certificate."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.serialization import pkcs12

from ebid.client.errors import Refused
from ebid.client.session import write_private

PASSWORD_ENV = "EBID_P12_PASSWORD"  # noqa: S105 (the variable's name, not a password)
ACCOUNT_PASSWORD_ENV = "EBID_PASSWORD"  # noqa: S105 (idem)
RecipientKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey


@dataclass(frozen=True)
class Holder:
    """A private key with its certificate and the chain that came with it (issuer first)."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    path: Path


def password(password_file: Path | None, *, env: str = PASSWORD_ENV,
             prompt: str = "PKCS#12 password / 证书口令: ") -> bytes:
    """From ``--password-file`` (its first line), else $``env``, else asked on the terminal."""
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as error:
            raise Refused(f"cannot read the password file {password_file}: {error.strerror}",
                          f"无法读取口令文件 {password_file}：{error.strerror}") from error
        return (text.splitlines() or [""])[0].encode("utf-8")
    if os.environ.get(env) is not None:
        return os.environ[env].encode("utf-8")
    if sys.stdin.isatty():
        return getpass.getpass(prompt).encode("utf-8")
    raise Refused(f"no password: give --password-file or set {env}",
                  f"缺少口令：请用 --password-file 或设置 {env}")


def load_p12(path: Path, secret: bytes) -> Holder:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}",
                      f"无法读取 {path}：{error.strerror}") from error
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, secret)
    except ValueError as error:
        raise Refused(f"{path} cannot be opened: wrong password, or not a PKCS#12 file",
                      f"无法打开 {path}：口令错误，或不是 PKCS#12 文件") from error
    if certificate is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise Refused(f"{path} holds no RSA or EC private key with its certificate",
                      f"{path} 中没有 RSA 或 EC 私钥及其证书")
    return Holder(key, certificate, tuple(extra), path)


def encryption_key(holder: Holder) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of an encryption certificate (HPKE takes no RSA keys)."""
    key = holder.key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise Refused(f"{holder.path} is not an EC P-256 encryption certificate (HPKE needs "
                      "P-256 or X25519)",
                      f"{holder.path} 不是 EC P-256 加密证书（HPKE 需要 P-256 或 X25519）")
    return key


def new_x25519(path: Path, secret: bytes | None) -> x25519.X25519PrivateKey:
    """Write a new X25519 key to ``path`` (PKCS#8 PEM, encrypted when ``secret`` is given)."""
    if path.exists():
        raise Refused(f"{path} exists: a bid sealed to it could no longer be decrypted if it "
                      "were replaced", f"{path} 已存在：若被替换，用它密封的投标文件将无法解密")
    key = x25519.X25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8, encryption))
    return key


def load_x25519(path: Path, ask: Callable[[], bytes]) -> x25519.X25519PrivateKey:
    """The key ``keygen`` wrote; ``ask`` gives the password, asked only if it is encrypted."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}",
                      f"无法读取 {path}：{error.strerror}") from error
    try:
        try:
            key = serialization.load_pem_private_key(data, None)
        except TypeError:  # encrypted: now the password is needed
            key = serialization.load_pem_private_key(data, ask())
    except (ValueError, TypeError) as error:
        raise Refused(f"{path} cannot be opened: wrong password, or not a PEM private key",
                      f"无法打开 {path}：口令错误，或不是 PEM 私钥") from error
    if not isinstance(key, x25519.X25519PrivateKey):
        raise Refused(f"{path} is not an X25519 key", f"{path} 不是 X25519 密钥")
    return key
