"""Refusals of a sealed bid or a CMS signature, each naming its reason in Chinese and English.

Every reason a package is refused has its own class, so the opening can attribute a failure
(docs/sealed-bid-format.md, "Refusals"): the package no longer matching what was received is
the platform's fault; a wrong key or a bad signature on an intact package is the bidder's.
Messages never quote a bid's content: they may be shown before the opening.
"""

from __future__ import annotations

from kernel.errors import DomainError

__all__ = [
    "BadSignature",
    "BothKeysNeeded",
    "MalformedPackage",
    "ManifestMismatch",
    "PackageChanged",
    "SealedBidRefused",
    "TamperedSegment",
    "TruncatedPackage",
    "UnsupportedAlgorithm",
    "WrongDataKey",
    "WrongRecipientKey",
]

# What a signature is, for the messages.
_SIGNATURES = {
    "package": ("封装签名", "package signature"),
    "manifest": ("投标清单签名", "manifest signature"),
    "cms": ("CMS 签名", "CMS signature"),
}
_WRAPS = {"opening": ("开标密钥", "opening key"), "bidder": ("投标人加密密钥", "bidder's key")}


class SealedBidRefused(DomainError):
    """Base of every reason a sealed package or a signature in it is refused."""

    status_code = 400
    code = "sealed_bid_refused"
    zh = "密封投标文件不被接受"
    en = "The sealed bid is refused"


class MalformedPackage(SealedBidRefused):
    code = "malformed_package"
    zh = "密封投标文件格式错误：{reason_zh}"
    en = "The sealed package is malformed: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class UnsupportedAlgorithm(MalformedPackage):
    code = "unsupported_algorithm"
    zh = "不支持的{what_zh}：{value}"
    en = "Unsupported {what}: {value}"

    def __init__(self, *, what: str, what_zh: str, value: object) -> None:
        SealedBidRefused.__init__(self, what=what, what_zh=what_zh, value=value)


class TruncatedPackage(SealedBidRefused):
    code = "truncated_package"
    zh = "密封投标文件不完整：{reason_zh}"
    en = "The sealed package is truncated: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class PackageChanged(SealedBidRefused):
    """The package read is not the one the platform verified and recorded when it came in."""

    code = "package_changed"
    zh = "密封投标文件与接收时记录的不符：其 SHA-256 为 {found}，接收时记录的为 {expected}"
    en = ("The sealed package is not the one received: it hashes to {found}, the hash recorded "
          "when it was received is {expected}")

    def __init__(self, *, found: str, expected: str) -> None:
        super().__init__(found=found, expected=expected)


class TamperedSegment(SealedBidRefused):
    code = "tampered_segment"
    zh = "密文第 {index} 段未通过完整性校验（GCM 标签）：已被改动、调换顺序或来自另一文件"
    en = (
        "Segment {index} of the ciphertext failed its integrity check (GCM tag): it was "
        "altered, reordered or taken from another package"
    )

    def __init__(self, *, index: int) -> None:
        super().__init__(index=index)


class WrongRecipientKey(SealedBidRefused):
    code = "wrong_recipient_key"
    zh = "该私钥无法解开给{which_zh}的数据密钥封装：{reason_zh}"
    en = "This private key does not unwrap the data key wrapped to the {which}: {reason}"

    def __init__(self, *, which: str, reason: str, reason_zh: str) -> None:
        which_zh, which_en = _WRAPS.get(which, (which, which))
        super().__init__(which=which_en, which_zh=which_zh, reason=reason, reason_zh=reason_zh)


class WrongDataKey(SealedBidRefused):
    code = "wrong_data_key"
    zh = "数据密钥与密封投标文件的密钥承诺不符：{reason_zh}"
    en = "The data key does not match the package's key commitment: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class BothKeysNeeded(SealedBidRefused):
    code = "both_keys_needed"
    zh = "该投标文件采用“双钥共开”方式：需要开标密钥和投标人密钥各自解出的份额"
    en = (
        "This package is sealed in 'both keys needed' mode: the shares unwrapped with the "
        "opening key and with the bidder's key are both needed"
    )


class BadSignature(SealedBidRefused):
    code = "bad_signature"
    zh = "{signature_zh}无效：{reason_zh}"
    en = "The {signature} is invalid: {reason}"

    def __init__(self, *, signature: str, reason: str, reason_zh: str) -> None:
        signature_zh, signature_en = _SIGNATURES.get(signature, (signature, signature))
        super().__init__(signature=signature_en, signature_zh=signature_zh, reason=reason,
                         reason_zh=reason_zh)
        self.signature = signature


class ManifestMismatch(SealedBidRefused):
    code = "manifest_mismatch"
    zh = "投标清单与文件内容不符：{reason_zh}"
    en = "The manifest does not match the package: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)
