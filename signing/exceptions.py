"""Refusals of the signing domain, each with its message in Chinese and English.

A certificate refusal names the certificate (its subject), the reason and the dates involved, so
the bidder can tell their CA what to fix. Instants are given in UTC, to the second.
"""

from __future__ import annotations

from kernel.errors import DomainError

__all__ = [
    "CaAlreadyAccepted",
    "CaCertificateUnreadable",
    "CaNotFound",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateRefused",
    "CertificateRevoked",
    "ChainRejected",
    "CrlInvalid",
    "CrlIssuerUnknown",
    "CrlMissing",
    "CrlNotNewer",
    "CrlOutOfDate",
    "CrlSignatureInvalid",
    "CrlUnreadable",
    "NotACaCertificate",
    "UnknownIssuer",
    "WrongKeyUsage",
]


class CertificateRefused(DomainError):
    """Base of every reason a certificate is not accepted."""

    status_code = 400
    code = "certificate_refused"
    zh = "证书不被接受"
    en = "The certificate is not accepted"


class CertificateExpired(CertificateRefused):
    code = "certificate_expired"
    zh = "证书 {subject} 已于 {not_after} 过期"
    en = "The certificate {subject} expired on {not_after}"

    def __init__(self, *, subject: str, not_after: str) -> None:
        super().__init__(subject=subject, not_after=not_after)


class CertificateNotYetValid(CertificateRefused):
    code = "certificate_not_yet_valid"
    zh = "证书 {subject} 尚未生效，生效时间为 {not_before}"
    en = "The certificate {subject} is not yet valid until {not_before}"

    def __init__(self, *, subject: str, not_before: str) -> None:
        super().__init__(subject=subject, not_before=not_before)


class CertificateRevoked(CertificateRefused):
    code = "certificate_revoked"
    zh = "证书 {subject}（序列号 {serial}）已于 {revoked_at} 被 {issuer} 吊销（{reason}）"
    en = (
        "The certificate {subject} (serial {serial}) was revoked on {revoked_at} ({reason}) "
        "by {issuer}"
    )

    def __init__(
        self, *, subject: str, serial: str, revoked_at: str, reason: str, issuer: str
    ) -> None:
        super().__init__(
            subject=subject, serial=serial, revoked_at=revoked_at, reason=reason, issuer=issuer
        )


class UnknownIssuer(CertificateRefused):
    code = "unknown_issuer"
    zh = "证书 {subject} 的签发者 {issuer} 不是本中心认可的 CA（{detail}）"
    en = "The certificate {subject} has an unknown issuer {issuer}, not an accepted CA ({detail})"

    def __init__(self, *, subject: str, issuer: str, detail: str) -> None:
        super().__init__(subject=subject, issuer=issuer, detail=detail)


class ChainRejected(CertificateRefused):
    """A chain to an accepted CA exists by name, but path validation refused it."""

    code = "chain_rejected"
    zh = "证书 {subject} 的证书链未通过验证：{detail}"
    en = "The certificate chain of {subject} was rejected: {detail}"

    def __init__(self, *, subject: str, detail: str) -> None:
        super().__init__(subject=subject, detail=detail)


class WrongKeyUsage(CertificateRefused):
    code = "wrong_key_usage"
    zh = "证书 {subject} 的密钥用法不符（{found}）：{usage_zh}需要 {needed}"
    en = "The certificate {subject} has the wrong key usage ({found}): {usage} needs {needed}"

    def __init__(
        self, *, subject: str, found: str, usage: str, usage_zh: str, needed: str
    ) -> None:
        super().__init__(
            subject=subject, found=found, usage=usage, usage_zh=usage_zh, needed=needed
        )


class CrlMissing(CertificateRefused):
    code = "crl_missing"
    zh = "没有 {issuer} 的证书吊销列表（CRL），无法确认证书 {subject} 未被吊销"
    en = (
        "No CRL of {issuer} is on file, so the certificate {subject} cannot be checked for "
        "revocation"
    )

    def __init__(self, *, issuer: str, subject: str) -> None:
        super().__init__(issuer=issuer, subject=subject)


class CrlOutOfDate(CertificateRefused):
    code = "crl_out_of_date"
    zh = "{issuer} 的证书吊销列表（CRL）自 {next_update} 起已过期，无法确认证书 {subject} 未被吊销"
    en = (
        "The CRL of {issuer} is out of date since {next_update}, so the certificate {subject} "
        "cannot be checked for revocation"
    )

    def __init__(self, *, issuer: str, next_update: str, subject: str) -> None:
        super().__init__(issuer=issuer, next_update=next_update, subject=subject)


class CrlInvalid(CertificateRefused):
    code = "crl_invalid"
    zh = "{issuer} 的证书吊销列表（CRL）无效：{reason}"
    en = "The CRL of {issuer} is invalid: {reason}"

    def __init__(self, *, issuer: str, reason: str) -> None:
        super().__init__(issuer=issuer, reason=reason)



# --- the accepted CAs and their CRLs, as the centre admin manages them ------------------------


class CaCertificateUnreadable(DomainError):
    status_code = 400
    code = "ca_certificate_unreadable"
    zh = "无法读取该文件：应为 PEM 或 DER 格式的 X.509 证书"
    en = "The file cannot be read: it should be an X.509 certificate in PEM or DER form"


class NotACaCertificate(DomainError):
    status_code = 400
    code = "not_a_ca_certificate"
    zh = "证书 {subject} 不是 CA 证书（基本约束中没有 CA:TRUE）"
    en = "The certificate {subject} is not a CA certificate (basicConstraints lacks CA:TRUE)"

    def __init__(self, *, subject: str) -> None:
        super().__init__(subject=subject)


class CaAlreadyAccepted(DomainError):
    status_code = 409
    code = "ca_already_accepted"
    zh = "CA 证书 {subject} 已在认可列表中（指纹 {fingerprint}）"
    en = "The CA certificate {subject} is already on the list (fingerprint {fingerprint})"

    def __init__(self, *, subject: str, fingerprint: str) -> None:
        super().__init__(subject=subject, fingerprint=fingerprint)


class CaNotFound(DomainError):
    status_code = 404
    code = "ca_not_found"
    zh = "没有这个认可的 CA"
    en = "No such accepted CA"


class CrlUnreadable(DomainError):
    status_code = 400
    code = "crl_unreadable"
    zh = "无法读取该文件：应为 PEM 或 DER 格式的证书吊销列表（CRL）"
    en = "The file cannot be read: it should be a certificate revocation list in PEM or DER form"


class CrlIssuerUnknown(DomainError):
    status_code = 400
    code = "crl_issuer_unknown"
    zh = "CRL 的签发者 {issuer} 不是本中心认可的 CA"
    en = "The CRL's issuer {issuer} is not an accepted CA"

    def __init__(self, *, issuer: str) -> None:
        super().__init__(issuer=issuer)


class CrlSignatureInvalid(DomainError):
    status_code = 400
    code = "crl_signature_invalid"
    zh = "CRL 的签名无法用认可的 CA {issuer} 的公钥验证"
    en = "The CRL's signature does not verify with the key of the accepted CA {issuer}"

    def __init__(self, *, issuer: str) -> None:
        super().__init__(issuer=issuer)


class CrlNotNewer(DomainError):
    status_code = 409
    code = "crl_not_newer"
    zh = "该 CRL（签发于 {this_update}）不比 {issuer} 当前的 CRL（签发于 {current}）新"
    en = (
        "This CRL (issued on {this_update}) is not newer than the current CRL of {issuer} "
        "(issued on {current})"
    )

    def __init__(self, *, issuer: str, this_update: str, current: str) -> None:
        super().__init__(issuer=issuer, this_update=this_update, current=current)
