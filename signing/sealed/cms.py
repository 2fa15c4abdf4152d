"""Detached CMS (PKCS #7) signatures of the sealed bid: the shared code is in signing.cms.

Made with cryptography, verified with asn1crypto; see signing/cms.py for what is checked. This
module keeps the names the sealed-bid code and its callers import from here.
"""

from __future__ import annotations

from signing.cms import SignerKey, VerifiedSignature, sign_detached, verify_detached

__all__ = ["SignerKey", "VerifiedSignature", "sign_detached", "verify_detached"]
