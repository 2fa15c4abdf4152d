"""CMS (PKCS #7) SignedData: made with cryptography, verified with asn1crypto.

Two shapes: detached (the sealed bid's signatures: the content travels beside the signature)
and attached (the platform's receipts: the content is inside, so ``openssl cms -verify`` prints
it). cryptography signs CMS but cannot verify it, so verification parses the SignedData with
asn1crypto and checks the signature with cryptography: the signer certificate is found among the
included certificates by issuer and serial number or by subject key identifier; the
messageDigest signed attribute must equal the content's digest and the contentType attribute
must say id-data; the signature is over the DER of the signed attributes re-tagged as a SET OF
(RFC 5652 5.4), or over the content itself when there are no signed attributes. RSA PKCS #1
v1.5, RSA-PSS and ECDSA with SHA-256/384/512 are accepted; SHA-1 and MD5 are refused.

Only the signature is checked here. Whether the signer certificate is acceptable (chain,
validity, key usage, revocation) is ``signing.certificates.verify_certificate``'s job.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

if TYPE_CHECKING:
    from signing.sealed.errors import BadSignature

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Digests a signature may use. SHA-1 and MD5 are collision-broken: a signature over them is
# refused, whatever the CA says.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}
_SET_OF = 0x31
_IMPLICIT_0 = 0xA0


@dataclass(frozen=True)
class VerifiedSignature:
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]  # the others that came along: chain candidates
    digest_algorithm: str  # "sha256"
    signing_time: datetime | None  # the signer's own claim, from its clock: evidence of nothing


def _sign(content: bytes, key: SignerKey, certificate: x509.Certificate,
          chain: Sequence[x509.Certificate], *, detached: bool) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(
        certificate, key, hashes.SHA256()
    )
    for extra in chain:
        builder = builder.add_certificate(extra)
    # Binary: the bytes are signed as they are, with no conversion of line ends to CRLF.
    options = [pkcs7.PKCS7Options.Binary]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    return builder.sign(serialization.Encoding.DER, options)


def sign_detached(
    content: bytes, *, key: SignerKey, certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """A detached CMS SignedData (DER, SHA-256) over ``content``, carrying the signer's chain."""
    return _sign(content, key, certificate, chain, detached=True)


def sign_attached(
    content: bytes, *, key: SignerKey, certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """A CMS SignedData (DER, SHA-256) that carries ``content`` inside, with the signer's chain."""
    return _sign(content, key, certificate, chain, detached=False)


def _bad(what: str, reason: str, reason_zh: str) -> BadSignature:
    # Imported here: importing signing.sealed runs its __init__, which imports this module.
    from signing.sealed.errors import BadSignature

    return BadSignature(signature=what, reason=reason, reason_zh=reason_zh)


def _signed_data(der: bytes, what: str) -> Any:
    info = asn1_cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise _bad(what, f"it is CMS {info['content_type'].native}, not SignedData",
                   f"它是 CMS {info['content_type'].native}，不是 SignedData")
    return info["content"]


def _certificates(signed: Any, what: str) -> list[tuple[Any, x509.Certificate]]:
    found = []
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue  # attribute and other certificate formats play no part here
        try:
            found.append((choice.chosen, x509.load_der_x509_certificate(choice.chosen.dump())))
        except ValueError as error:
            raise _bad(what, f"an included certificate does not parse ({error})",
                       "签名中所含的证书无法解析") from error
    return found


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _signer(signer_info: Any, certs: list[tuple[Any, x509.Certificate]], what: str) -> int:
    sid = signer_info["sid"]
    for index, (parsed, cert) in enumerate(certs):
        if sid.name == "issuer_and_serial_number":
            issuer = sid.chosen["issuer"]
            # The same DER is the usual case and cheap; RFC 5280 name matching is the fallback.
            if cert.serial_number == sid.chosen["serial_number"].native and (
                cert.issuer.public_bytes() == issuer.dump() or parsed.issuer == issuer
            ):
                return index
        elif _subject_key_id(cert) == sid.chosen.native:
            return index
    raise _bad(what, "the signer's certificate is not included in the signature",
               "签名中未包含签名者的证书")


def _attribute(attrs: dict[str, list[Any]], name: str, what: str) -> Any:
    values = attrs.get(name, [])
    if len(values) != 1 or len(values[0]) != 1:
        raise _bad(what, f"the signed attribute {name} must occur exactly once",
                   f"签名属性 {name} 必须恰好出现一次")
    return values[0][0]


def _by_type(attrs: Any) -> dict[str, list[Any]]:
    """The signed attributes' values by attribute type, in one pass over them."""
    found: dict[str, list[Any]] = {}
    for attribute in attrs:
        found.setdefault(attribute["type"].native, []).append(attribute["values"])
    return found


# (DER of the included certificates, DER of the signer identifier) -> (the certificates, the
# signer's index among them). Why: a bidder's certificates come with every signature it makes,
# two per sealed bid, and parsing them and finding the signer among them was a third of a
# verification's time at the opening. The entry is a pure function of its key's bytes, so a
# hit decides exactly what a miss would; the signature itself is verified every time.
_SIGNERS: OrderedDict[tuple[bytes, bytes], tuple[list[tuple[Any, x509.Certificate]], int]] = (
    OrderedDict())
_SIGNERS_KEPT = 256
_SIGNERS_LOCK = threading.Lock()


def _certificates_and_signer(signed: Any, signer_info: Any,
                             what: str) -> tuple[list[tuple[Any, x509.Certificate]], int]:
    key = (signed["certificates"].dump(), signer_info["sid"].dump())
    with _SIGNERS_LOCK:
        hit = _SIGNERS.get(key)
        if hit is not None:
            _SIGNERS.move_to_end(key)
            return hit
    certs = _certificates(signed, what)
    found = (certs, _signer(signer_info, certs, what))
    with _SIGNERS_LOCK:
        _SIGNERS[key] = found
        while len(_SIGNERS) > _SIGNERS_KEPT:
            _SIGNERS.popitem(last=False)
    return found


def _hash_of(signer_info: Any, what: str) -> hashes.HashAlgorithm:
    name = signer_info["digest_algorithm"]["algorithm"].native
    if name not in _HASHES:
        raise _bad(what, f"the digest algorithm {name} is not accepted (SHA-256/384/512 are)",
                   f"不接受摘要算法 {name}（仅接受 SHA-256/384/512）")
    return _HASHES[name]()


def _check_signature(
    signer_info: Any, public_key: object, signed_bytes: bytes, digest: hashes.HashAlgorithm,
    what: str,
) -> None:
    algorithm = signer_info["signature_algorithm"]
    signature = signer_info["signature"].native
    try:
        kind = algorithm.signature_algo
        named_hash = None if kind == "rsassa_pss" else _named_hash(algorithm)
    except ValueError as error:
        raise _bad(what, f"unknown signature algorithm ({error})", "未知的签名算法") from error
    if named_hash is not None and named_hash != digest.name:
        raise _bad(what, f"the signature algorithm uses {named_hash}, the digest {digest.name}",
                   f"签名算法使用 {named_hash}，摘要算法却是 {digest.name}")
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, _pss(algorithm, what), digest)
        elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_bytes, ec.ECDSA(digest))
        else:
            raise _bad(what, f"a {kind} signature by a {type(public_key).__name__} is not "
                             "accepted (RSA and ECDSA are)",
                       f"不接受 {kind} 签名（仅接受 RSA 与 ECDSA）")
    except (InvalidSignature, UnsupportedAlgorithm) as error:
        raise _bad(what, "the signature does not verify with the signer's public key",
                   "用签名者公钥验证签名失败") from error


def _named_hash(algorithm: Any) -> str | None:
    try:
        return str(algorithm.hash_algo)
    except ValueError:  # rsaEncryption, ecdsa: the digest algorithm field names the hash
        return None


def _pss(algorithm: Any, what: str) -> padding.PSS:
    params = algorithm["parameters"]
    mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
    hash_name = params["hash_algorithm"]["algorithm"].native
    if mgf_hash not in _HASHES or hash_name not in _HASHES:
        raise _bad(what, f"RSA-PSS with {hash_name}/{mgf_hash} is not accepted",
                   f"不接受 RSA-PSS 参数 {hash_name}/{mgf_hash}")
    return padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()),
                       salt_length=params["salt_length"].native)


def verify_detached(der: bytes, *, content: bytes, what: str = "cms") -> VerifiedSignature:
    """Check a detached CMS signature over ``content``; return its signer, or raise BadSignature.

    ``what`` names the signature in the refusal ("package", "manifest", "cms"). Exactly one
    signer is accepted. The signer certificate is NOT validated here: pass it to
    ``signing.certificates.verify_certificate`` with ``certificates`` as intermediates.
    """
    return _guarded(der, content, what)[1]


def verify_attached(der: bytes, *, what: str = "cms") -> tuple[bytes, VerifiedSignature]:
    """Check a CMS signature that carries its content; return the content and its signer.

    The same checks as :func:`verify_detached`, on the content found inside; a detached
    signature is refused. The signer certificate is NOT validated here either.
    """
    return _guarded(der, None, what)


def attached_content(der: bytes, *, what: str = "cms") -> bytes:
    """The content an attached signature carries, NOT verified: only for showing what this
    platform itself has just signed or stored (a receipt it hands out), never to trust input."""
    try:
        return _content(_signed_data(der, what)["encap_content_info"], None, what)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise _bad(what, f"not DER-encoded CMS ({error})", "不是 DER 编码的 CMS 数据") from error


def _guarded(der: bytes, content: bytes | None, what: str) -> tuple[bytes, VerifiedSignature]:
    try:
        return _verify(der, content, what)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        # asn1crypto parses lazily: a malformed field shows up where it is first read.
        raise _bad(what, f"not DER-encoded CMS ({error})", "不是 DER 编码的 CMS 数据") from error


def _content(encap: Any, given: bytes | None, what: str) -> bytes:
    """The signed content: ``given`` for a detached signature, the inner one for an attached."""
    inner = encap["content"].native
    if given is not None:
        if inner is not None:
            raise _bad(what, "the signature carries its content (expected a detached signature)",
                       "签名内含了被签内容（应为分离式签名）")
        return given
    if encap["content_type"].native != "data":
        raise _bad(what, f"it signs {encap['content_type'].native}, not data",
                   f"被签内容类型为 {encap['content_type'].native}，而不是 data")
    if not isinstance(inner, bytes):
        raise _bad(what, "the signature does not carry its content (it is detached)",
                   "签名未包含被签内容（它是分离式签名）")
    return inner


def _verify(der: bytes, given: bytes | None, what: str) -> tuple[bytes, VerifiedSignature]:
    signed = _signed_data(der, what)
    encap = signed["encap_content_info"]
    content = _content(encap, given, what)
    if len(signed["signer_infos"]) != 1:
        raise _bad(what, f"it has {len(signed['signer_infos'])} signers instead of one",
                   f"它有 {len(signed['signer_infos'])} 个签名者，而不是一个")
    signer_info = signed["signer_infos"][0]
    certs, index = _certificates_and_signer(signed, signer_info, what)
    signer = certs[index][1]
    digest = _hash_of(signer_info, what)
    attrs = signer_info["signed_attrs"]
    signing_time = None
    # Void is asn1crypto's absent optional field; .native would convert every attribute.
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        signed_bytes = content
    else:
        by_type = _by_type(attrs)
        if _attribute(by_type, "content_type", what).native != encap["content_type"].native:
            raise _bad(what, "the contentType attribute does not match the content",
                       "contentType 签名属性与内容类型不符")
        hasher = hashes.Hash(digest)
        hasher.update(content)
        claimed = _attribute(by_type, "message_digest", what).native
        if not hmac.compare_digest(claimed, hasher.finalize()):
            raise _bad(what, "the signed content digest does not match this content "
                             "(the content was changed, or it is another document's signature)",
                       "签名中的内容摘要与该内容不符（内容已被改动，或这是另一文件的签名）")
        times = by_type.get("signing_time", [])
        signing_time = times[0][0].native if times else None
        # RFC 5652 5.4: the signature covers the attributes' DER with the SET OF tag, not [0].
        encoded = attrs.dump()
        if encoded[0] != _IMPLICIT_0:
            raise _bad(what, "the signed attributes are not tagged [0]", "签名属性的标签不是 [0]")
        signed_bytes = bytes([_SET_OF]) + encoded[1:]
    _check_signature(signer_info, signer.public_key(), signed_bytes, digest, what)
    others = tuple(cert for i, (_, cert) in enumerate(certs) if i != index)
    return content, VerifiedSignature(signer=signer, certificates=others,
                                      digest_algorithm=digest.name, signing_time=signing_time)
