"""``submit``: the resumable upload of a sealed package, and its receipt.

The upload's id is kept beside the package (``PKG.upload.json``) so a run that dies, or a
connection that drops, resumes from the offset the platform reports rather than from zero.
The receipt is saved as ``PKG.receipt.p7m``; running ``submit`` again once it exists prints it
instead of sending the package again, once the platform confirms that the bid is still the
current one (a withdrawn or replaced package is refused, as the platform would refuse it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ebid.client.errors import Refused, ServerRefused, Unreachable
from ebid.client.http import Api
from ebid.client.platform import b64decode
from ebid.client.session import write_private
from signing.cms import verify_attached
from signing.receipts import BadReceipt, Receipt
from signing.sealed import read_header
from signing.sealed.errors import BadSignature, SealedBidRefused

READ_SIZE = 1024 * 1024
# A bid's status once it is no longer the current one: (English, Chinese) as refusals say it.
_ENDED = {"withdrawn": ("withdrawn", "撤回"), "superseded": ("replaced", "被替换")}
DEFAULT_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    receipt_der: bytes
    receipt: Receipt
    path: Path  # where the receipt was saved
    resent: bool  # False when the saved receipt was printed instead


def receipt_path(package: Path) -> Path:
    return package.with_name(package.name + ".receipt.p7m")


def state_path(package: Path) -> Path:
    return package.with_name(package.name + ".upload.json")


def digest(path: Path) -> tuple[str, int]:
    sha256, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(READ_SIZE):
            sha256.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), size


def my_bid(api: Api, tender_id: int, sha256: str) -> dict[str, Any] | None:
    """The caller's bid on the tender sent as the package of this SHA-256 (the tender's
    ``mine.bids``, any status), or None."""
    tender = api.get_json(f"/api/v1/tenders/{tender_id}")
    mine = tender.get("mine") if isinstance(tender, dict) else None
    bids = mine.get("bids") if isinstance(mine, dict) else None
    return next((item for item in bids if isinstance(item, dict)
                 and item.get("sha256") == sha256), None) if isinstance(bids, list) else None


def read_receipt(der: bytes) -> Receipt:
    """The receipt's fields, its CMS signature checked (whose key it is: ``verify-receipt``)."""
    try:
        content, _ = verify_attached(der, what="receipt")
        return Receipt.from_json(content)
    except (BadSignature, BadReceipt) as error:
        raise Refused(f"the receipt is not valid: {error.message('en')}",
                      f"回执无效：{error.message('zh-CN')}") from error


class Uploader:
    """One package to one tender and lot; ``sleep`` is passed in so the tests do not wait."""

    def __init__(self, api: Api, *, package: Path, tender_id: int, lot: int,
                 chunk_size: int = DEFAULT_CHUNK, retries: int = 8, delay: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep,
                 say: Callable[[str], None] = print, lang: str = "en") -> None:
        self.api = api
        self.package = package
        self.tender_id = tender_id
        self.lot = lot
        self.chunk_size = chunk_size
        self.retries = retries
        self.delay = delay
        self.sleep = sleep
        self.say = say
        self.lang = lang

    def _check_header(self) -> None:
        """Refuse before sending a byte what the platform would refuse for its header: not a
        sealed package, or sealed for another tender or lot."""
        try:
            with self.package.open("rb") as stream:
                header = read_header(stream)
        except SealedBidRefused as error:
            name = self.package.name
            raise Refused(f"{name} is not a sealed bid package: {error.message('en')}",
                          f"{name} 不是密封投标文件：{error.message('zh-CN')}") from error
        if (header.tender, header.lot) != (str(self.tender_id), str(self.lot)):
            raise Refused(f"{self.package.name} was sealed for tender {header.tender} lot "
                          f"{header.lot}, not tender {self.tender_id} lot {self.lot}",
                          f"{self.package.name} 是为项目 {header.tender} 第 {header.lot} 标段"
                          f"封装的，而不是项目 {self.tender_id} 第 {self.lot} 标段")

    def run(self) -> Outcome:
        self._check_header()
        sha256, size = digest(self.package)
        saved = receipt_path(self.package)
        if saved.exists():
            der = saved.read_bytes()
            receipt = read_receipt(der)
            # Same bytes, so the same tender and lot as checked above: the platform took
            # only a package whose header names the tender and lot it was sent to.
            if receipt.package_sha256 == sha256:
                self._check_still_current(sha256)
                return Outcome(der, receipt, saved, resent=False)
        answer = self._with_retries(lambda: self._upload(sha256, size))
        der = b64decode(answer.get("receipt"), "receipt")
        receipt = read_receipt(der)
        if (receipt.package_sha256 != sha256 or receipt.tender_id != self.tender_id
                or receipt.lot != self.lot):
            raise Refused("the receipt names another package, tender or lot than the one sent",
                          "回执所载的投标文件、项目或标段与所提交的不符")
        write_private(saved, der)
        state_path(self.package).unlink(missing_ok=True)
        return Outcome(der, receipt, saved, resent=True)

    def _check_still_current(self, sha256: str) -> None:
        """Refuse a package the bidder withdrew or replaced since its receipt was saved.

        Asked of the tender's own view (``mine.bids``); when the platform cannot be asked, the
        saved receipt is shown as before: it proves receipt, not currency, either way.
        """
        try:
            item = my_bid(self.api, self.tender_id, sha256)
        except Refused:
            return
        if item is None or item.get("status") not in _ENDED:
            return
        en, zh = _ENDED[item["status"]]
        when = item.get("ended_at") or "?"
        raise Refused(f"this package was {en} ({when}): a bid once {en} cannot be sent "
                          "again; seal a new package",
                          f"该投标文件已{zh}（{when}），不能再次提交；请重新封装投标文件")

    def _with_retries(self, attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        failures = 0
        while True:
            try:
                return attempt()
            except Unreachable as error:
                failures += 1
                if failures > self.retries:
                    raise
                wait = min(self.delay * 2 ** (failures - 1), 30.0)
                count = f"{failures}/{self.retries}"
                self.say(f"{error.what}; retrying in {wait:g} s ({count})" if self.lang != "zh"
                         else f"{error.message('zh-CN')}；{wait:g} 秒后重试（{count}）")
                self.sleep(wait)

    def _upload(self, sha256: str, size: int) -> dict[str, Any]:
        upload_id, offset, chunk = self._resume_or_start(sha256, size)
        with self.package.open("rb") as stream:
            while offset < size:
                offset = self._put(upload_id, stream, offset, min(chunk, size - offset))
        try:
            answer = self.api.request("POST", f"/api/v1/uploads/{upload_id}/complete",
                                      json_body={}).json()
        except ServerRefused as error:
            if error.status == 409 and error.code == "upload_incomplete":
                # A chunk's answer said more than the platform kept (it restarted, say):
                # resume from the offset it holds, as after a dropped connection.
                raise Unreachable("the platform has not got every byte; resuming") from error
            if error.status != 404:
                # Kept: a next run asks the platform, which has removed the upload with a
                # refused package (and answers 404: a new upload) or kept it (a refusal that
                # may pass, 409 upload_busy, 429): it resumes.
                raise
            # Expired, or completed by an attempt whose answer was lost: send it again; the
            # platform answers a re-sent current package with its original receipt.
            state_path(self.package).unlink(missing_ok=True)
            raise Unreachable("the upload is no longer open; starting it again") from error
        if not isinstance(answer, dict):
            raise Refused("the platform's answer to the upload is not an object",
                          "平台对上传的应答格式有误")
        return answer

    def _resume_or_start(self, sha256: str, size: int) -> tuple[str, int, int]:
        state = self._state()
        if (state.get("sha256"), state.get("server"), state.get("tender_id"),
                state.get("lot")) == (sha256, self.api.base_url, self.tender_id, self.lot):
            try:
                status = self.api.get_json(f"/api/v1/uploads/{state['upload_id']}")
            except ServerRefused as error:
                if error.status not in (403, 404, 410):
                    raise
            else:
                offset = status.get("offset") if isinstance(status, dict) else None
                if isinstance(offset, int) and 0 <= offset <= size:
                    self.say(f"resuming upload {state['upload_id']} at byte {offset} of {size}"
                             if self.lang != "zh" else
                             f"续传上传 {state['upload_id']}：从第 {offset} 字节起，共 {size} 字节")
                    return state["upload_id"], offset, int(state.get("chunk_size") or
                                                            self.chunk_size)
        answer = self.api.post_json(f"/api/v1/tenders/{self.tender_id}/uploads",
                                    {"lot": self.lot, "size": size, "sha256": sha256})
        upload_id = answer.get("upload_id") if isinstance(answer, dict) else None
        if not isinstance(upload_id, str | int):
            raise Refused("the platform gave no upload id", "平台未给出上传编号")
        server_chunk = answer.get("chunk_size")
        chunk = min(self.chunk_size, server_chunk) if isinstance(server_chunk, int) and \
            server_chunk > 0 else self.chunk_size
        write_private(state_path(self.package), json.dumps({
            "server": self.api.base_url, "tender_id": self.tender_id, "lot": self.lot,
            "sha256": sha256, "size": size, "upload_id": str(upload_id), "chunk_size": chunk,
        }).encode())
        return str(upload_id), int(answer.get("offset") or 0), chunk

    def _state(self) -> dict[str, Any]:
        try:
            data = json.loads(state_path(self.package).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and "upload_id" in data else {}

    def _put(self, upload_id: str, stream: BinaryIO, offset: int, length: int) -> int:
        stream.seek(offset)
        body = stream.read(length)
        try:
            answer = self.api.request("PUT", f"/api/v1/uploads/{upload_id}",
                                      query={"offset": offset}, data=body,
                                      content_type="application/octet-stream").json()
        except ServerRefused as error:
            # 409: the platform holds another offset (a chunk whose answer was lost arrived,
            # or another run went on): continue from where the platform says.
            current = error.body.get("offset") if isinstance(error.body, dict) else None
            if error.status == 409 and isinstance(current, int) and current >= 0:
                return current
            raise
        new = answer.get("offset") if isinstance(answer, dict) else None
        if not isinstance(new, int) or new < offset:
            raise Refused("the platform answered the chunk without a valid offset",
                          "平台对分块的应答缺少有效的偏移量")
        return new


def show(receipt: Receipt) -> str:
    fields = receipt.to_dict()
    return "\n".join(f"{name:<19}{fields[name]}" for name in (
        "tender_id", "lot", "package_sha256", "certificate_sha256", "received_at", "log_index",
        "tree_size"))

