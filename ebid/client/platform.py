"""What the client reads from the platform before sealing or at the opening: a tender's opening
key (checked as the library checks a stored setup) and the centre's fingerprint key."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ebid.client.errors import Refused
from ebid.client.http import Api
from signing.opening_key import (
    FORMAT_NAME,
    OPENING_ALGORITHM,
    SHARING,
    VERSION,
    MalformedSetup,
    OpeningKeySetup,
)
from signing.sealed import KeyMode

# The API does not publish when the key was made, and nothing here depends on it.
_UNKNOWN_TIME = "1970-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class TenderKey:
    tender_id: int
    mode: KeyMode
    setup: OpeningKeySetup  # public key, threshold and the encrypted shares


def b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise Refused(f"{what} is not base64 text", f"{what} 不是 base64 文本")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Refused(f"{what} is not base64", f"{what} 不是 base64") from error


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def opening_key(api: Api, tender_id: int) -> TenderKey:
    """GET /api/v1/tenders/{id}/opening-key, its key id checked against its public key."""
    answer = api.get_json(f"/api/v1/tenders/{tender_id}/opening-key")
    if not isinstance(answer, dict) or answer.get("mode") not in ("either", "both"):
        raise Refused("the platform's opening key has no valid mode",
                      "平台给出的开标密钥缺少有效的模式")
    document = {
        "format": FORMAT_NAME, "version": VERSION, "algorithm": OPENING_ALGORITHM,
        "sharing": SHARING, "tender": str(tender_id), "created_at": _UNKNOWN_TIME,
        "public_key": answer.get("public_key_pem"), "key_id": answer.get("key_id"),
        "threshold": answer.get("threshold"), "shares": answer.get("shares"),
    }
    try:
        setup = OpeningKeySetup.from_dict(document)
    except MalformedSetup as error:
        raise Refused(f"the platform's opening key of tender {tender_id} is malformed: "
                      f"{error.message('en')}",
                      f"平台给出的招标项目 {tender_id} 开标密钥格式有误："
                      f"{error.message('zh-CN')}") from error
    return TenderKey(tender_id, answer["mode"], setup)


def fingerprint_key(api: Api) -> bytes:
    """GET /api/v1/fingerprint-key: the centre-wide HMAC key (needs a login)."""
    answer = api.get_json("/api/v1/fingerprint-key")
    key = b64decode(answer.get("key") if isinstance(answer, dict) else None, "fingerprint key")
    if len(key) < 16:
        raise Refused("the platform's fingerprint key is too short", "平台的指纹密钥过短")
    return key
