"""At the opening: ``decrypt`` (bidders send their data keys, signed) and ``share`` (officers
send their share of the tender's opening key). Private keys never leave the machine: only the
bid's data key (or the bidder's half of it) and the officer's plaintext share are sent, and only
during the opening, when the platform asks for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ebid.client.credentials import Holder
from ebid.client.errors import Refused, ServerRefused
from ebid.client.http import Api
from ebid.client.platform import b64encode, opening_key
from ebid.client.upload import digest
from signing.cms import sign_detached
from signing.opening_key import decrypt_share
from signing.sealed import SealedHeader, read_header, unwrap_data_key, unwrap_share
from signing.sealed.errors import SealedBidRefused
from signing.sealed.keys import RecipientPrivateKey, key_id
from signing.shamir import ShareRefused


@dataclass(frozen=True)
class BidResult:
    bid_id: int
    lot: Any
    decryption: str
    detail: str
    refused: bool = False


def key_request(*, tender_id: int, bid_id: int, package_sha256: str, data_key: bytes,
                signer: Holder) -> dict[str, str]:
    """The body of POST .../bids/{id}/key: the key and the bidder's signature over the
    canonical JSON (sorted keys, no spaces, UTF-8) of what it is for."""
    encoded = b64encode(data_key)
    statement = json.dumps({"tender_id": tender_id, "bid_id": bid_id,
                            "package_sha256": package_sha256, "data_key": encoded},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signature = sign_detached(statement.encode("utf-8"), key=signer.key,
                              certificate=signer.certificate, chain=signer.chain)
    return {"data_key": encoded, "signature": b64encode(signature)}


def bidder_secret(header: SealedHeader, key: RecipientPrivateKey) -> bytes:
    """What the bidder sends: the data key ("either", checked against the header's
    commitment) or the bidder's half of it ("both": the platform joins the officers' half)."""
    try:
        if header.key_mode == "both":
            return unwrap_share(header, key, "bidder")
        return unwrap_data_key(header, key, "bidder")
    except SealedBidRefused as error:
        raise Refused(error.message("en"), error.message("zh-CN")) from error


def _header(api: Api, tender_id: int, bid: dict[str, Any],
            local: tuple[Path, str] | None) -> SealedHeader:
    try:
        if local is not None and local[1] == bid.get("package_sha256"):
            with local[0].open("rb") as stream:
                return read_header(stream)
        with api.stream(f"/api/v1/tenders/{tender_id}/bids/{bid['bid_id']}/package") as stream:
            return read_header(stream)
    except SealedBidRefused as error:
        raise Refused(f"bid {bid['bid_id']}: {error.message('en')}",
                      f"投标 {bid['bid_id']}：{error.message('zh-CN')}") from error


def decrypt(api: Api, *, tender_id: int, signer: Holder, key: RecipientPrivateKey,
            package: Path | None = None,
            say: Callable[[str], None] = print, lang: str = "en") -> list[BidResult]:
    """Send the key of each of the caller's pending bids on the tender; their outcomes."""
    state = api.get_json(f"/api/v1/tenders/{tender_id}/opening")
    if isinstance(state, dict) and state.get("decryption_ends_at"):
        say(f"opening of tender {tender_id}: {state.get('status')}, decryption window ends "
            f"{state['decryption_ends_at']}" if lang != "zh" else
            f"招标项目 {tender_id} 开标：{state.get('status')}，解密截止 "
            f"{state['decryption_ends_at']}")
    bids = state.get("bids") if isinstance(state, dict) else None
    mine = [bid for bid in bids or [] if isinstance(bid, dict) and bid.get("mine")]
    if not mine:
        raise Refused(f"you have no bid on tender {tender_id} to decrypt",
                      f"您在招标项目 {tender_id} 中没有需要解密的投标")
    local = (package, digest(package)[0]) if package is not None else None
    results = []
    for bid in mine:
        if bid.get("decryption") != "pending":
            results.append(BidResult(bid["bid_id"], bid.get("lot"), str(bid.get("decryption")),
                                     str(bid.get("detail") or "")))
            continue
        header = _header(api, tender_id, bid, local)
        if header.tender != str(tender_id):
            raise Refused(f"bid {bid['bid_id']}'s package is for tender {header.tender}",
                          f"投标 {bid['bid_id']} 的投标文件属于招标项目 {header.tender}")
        body = key_request(tender_id=tender_id, bid_id=int(bid["bid_id"]),
                           package_sha256=str(bid["package_sha256"]),
                           data_key=bidder_secret(header, key), signer=signer)
        try:
            answer = api.post_json(f"/api/v1/tenders/{tender_id}/bids/{bid['bid_id']}/key",
                                   body)
        except ServerRefused as error:
            results.append(BidResult(bid["bid_id"], bid.get("lot"), "refused", error.reason,
                                     refused=True))
            continue
        results.append(BidResult(bid["bid_id"], bid.get("lot"),
                                 str(answer.get("decryption")), str(answer.get("detail") or "")))
    return results


def share(api: Api, *, tender_id: int, key: RecipientPrivateKey) -> dict[str, Any]:
    """Decrypt this officer's share of the tender's opening key locally and submit it."""
    tender = opening_key(api, tender_id)
    mine = key_id(key.public_key())
    held = [item for item in tender.setup.shares if item.key_id == mine]
    if not held:
        raise Refused(f"no share of tender {tender_id}'s opening key is encrypted to this key "
                      f"({mine[:16]}...)",
                      f"招标项目 {tender_id} 的开标密钥没有加密给此密钥（{mine[:16]}...）的份额")
    try:
        plain = decrypt_share(held[0], key, str(tender_id))
    except ShareRefused as error:
        raise Refused(error.message("en"), error.message("zh-CN")) from error
    answer = api.post_json(f"/api/v1/tenders/{tender_id}/opening/shares",
                           {"index": plain.index, "share": b64encode(plain.value)})
    return answer if isinstance(answer, dict) else {}
