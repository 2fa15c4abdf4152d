"""Refusals of the bidding domain. Messages go to whoever asked: before the opening they must
never name another bidder or reveal how many registered or bid."""

from __future__ import annotations

from bidding.rules import PublicityNotOver
from kernel.errors import DomainError, InvalidInput, NotFound, PermissionDenied

__all__ = [
    "AlreadyRegistered",
    "BadKeySignature",
    "BidNotCurrent",
    "BidNotFound",
    "DeadlinePassed",
    "DecryptionWindowClosed",
    "DocumentsRequired",
    "InvalidInput",
    "KeyNotExpected",
    "NotABidder",
    "NotAllowedForTender",
    "NotFound",
    "NotInvited",
    "NotRegistered",
    "ObjectionWindowClosed",
    "ObjectionsPending",
    "OpenedFilesWithheld",
    "PermissionDenied",
    "PublicityNotOver",
    "RankingIncomplete",
    "RoomDoubleBooked",
    "SharesTooEarly",
    "TenderNotFound",
    "TooEarly",
]


class TenderNotFound(NotFound):
    code = "tender_not_found"
    zh = "招标项目不存在"
    en = "Tender not found"


class BidNotFound(NotFound):
    code = "bid_not_found"
    zh = "投标文件不存在"
    en = "Bid not found"


class NotAllowedForTender(PermissionDenied):
    code = "not_your_tender"
    zh = "该招标项目不由您负责"
    en = "This tender is not run by your organisation"


class DeadlinePassed(DomainError):
    code = "deadline_passed"
    zh = "投标截止时间（{deadline}）已过，不再接受投标文件"
    en = "The bid deadline ({deadline}) has passed; no more bids are accepted"


class TooEarly(DomainError):
    code = "too_early"
    zh = "尚未到{what}的时间（{when}）"
    en = "It is too early to {what_en} (from {when})"


class BidNotCurrent(DomainError):
    code = "bid_not_current"
    zh = "该投标文件已{status_zh}（{when}），不是当前的投标文件"
    en = "That bid was {status} on {when}: it is not the current bid"


class NotABidder(PermissionDenied):
    code = "not_a_bidder"
    zh = "只有递交了投标文件的投标人可以对开标提出异议（《招标投标法实施条例》第四十四条）"
    en = "Only a bidder whose bid was opened here may object at the opening (Regulations art. 44)"


class NotRegistered(DomainError):
    code = "not_registered"
    zh = "请先报名该招标项目"
    en = "Register for this tender first"


class AlreadyRegistered(DomainError):
    code = "already_registered"
    zh = "您已报名该招标项目"
    en = "You have already registered for this tender"


class NotInvited(PermissionDenied):
    code = "not_invited"
    zh = "该项目为邀请招标，您的单位未受邀请"
    en = "This is an invited tender and your organisation was not invited"


class DocumentsRequired(DomainError):
    code = "documents_required"
    zh = "发布公告前须上传招标文件"
    en = "Upload the tender documents before publishing"


class RoomDoubleBooked(DomainError):
    code = "room_double_booked"
    zh = "开标室“{room}”在 {start} 至 {end} 已被预约"
    en = "Opening room '{room}' is already booked from {start} to {end}"


class ObjectionsPending(DomainError):
    code = "objections_pending"
    zh = "尚有未答复的异议，须先答复"
    en = "There are unanswered objections; answer them first"


class ObjectionWindowClosed(DomainError):
    code = "objection_window_closed"
    zh = "当前不在可提出此类异议的期间内"
    en = "Objections of this kind cannot be raised at this time"


class RankingIncomplete(DomainError):
    code = "ranking_incomplete"
    zh = "标段“{lot}”尚未录入评标排名"
    en = "Lot '{lot}' has no evaluation ranking yet"


class PackageSuperseded(DomainError):
    status_code = 409
    code = "package_superseded"
    zh = "该密封投标文件已于 {ended} 被您后来提交的投标文件替换，不能再次提交"
    en = "This sealed package was replaced by a later one of yours on {ended}; it cannot be re-sent"


class PackageWithdrawn(DomainError):
    status_code = 409
    code = "package_withdrawn"
    zh = "该密封投标文件已于 {ended} 撤回，不能再次提交；如需投标请重新封装"
    en = "This sealed package was withdrawn on {ended}; it cannot be re-sent: seal a new one"


class NoOpeningKey(DomainError):
    status_code = 409
    code = "no_opening_key"
    zh = "本项目没有开标公钥，不接受密封投标文件"
    en = "This tender has no opening key: it takes no sealed bids"


# -- the opening (bidding.services.opening) -------------------------------------------------


class DecryptionWindowClosed(DomainError):
    code = "decryption_window_closed"
    zh = "解密时间已于 {ends} 结束，不再接受解密密钥"
    en = "The decryption window ended at {ends}; no more keys are taken"


class KeyNotExpected(DomainError):
    code = "key_not_expected"
    zh = "该投标文件已不需要解密密钥（当前解密状态：{state}）"
    en = "This bid needs no key any more (its decryption state is {state})"


class BadKeySignature(DomainError):
    status_code = 400
    code = "bad_key_signature"
    zh = "解密密钥的签名无效：{reason_zh}"
    en = "The signature over the data key is invalid: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class OpenedFilesWithheld(DomainError):
    code = "opened_files_withheld"
    zh = "解密窗口结束后方可查看其他投标人的投标文件"
    en = "Other bidders' files are shown once the decryption window is over"


class SharesTooEarly(DomainError):
    code = "shares_too_early"
    zh = "投标截止（{deadline}）前不接受开标密钥份额"
    en = "Opening key shares are accepted only after the deadline ({deadline})"


class SealedPackageExpected(DomainError):
    """A form upload where a sealed package was expected: the unsealed upload of issue 2 is
    gone, since nobody, the platform included, may read a bid before the opening."""

    code = "sealed_package_expected"
    status_code = 415
    zh = ("投标文件须为用 ebid-client 签名加密的密封文件，"
          "以 application/octet-stream 上传，不能以表单上传")
    en = ("A bid is a sealed package sent as application/octet-stream (seal it with "
          "ebid-client, see docs/submission.md), not a form upload")
