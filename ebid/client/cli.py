"""``ebid-client``: the bidder's and the opening officer's command line (docs/client.md).

Exit status 0 when the command did what was asked, 1 when it was refused (the reason on
stderr: the platform's, or the client's own), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ebid.client import credentials, machine, opening, platform, sealing, upload, verify
from ebid.client.errors import Refused, ServerRefused, Unreachable
from ebid.client.http import Api
from ebid.client.session import Store, home
from signing.certificates import credit_code_of
from signing.cms import sign_detached
from signing.sealed import Signer
from signing.sealed.keys import key_id

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "EBID_SERVER"


def _lang(args: argparse.Namespace) -> str:
    return str(args.lang)


def _t(args: argparse.Namespace, en: str, zh: str) -> str:
    """The client's own words in the language of --lang (the platform's reasons come in it
    already)."""
    return zh if _lang(args) == "zh" else en


def _server(args: argparse.Namespace) -> str:
    return str(args.server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).rstrip("/")


def _store() -> Store:
    return Store(home())


def _api(args: argparse.Namespace, *, logged_in: bool = True) -> Api:
    server = _server(args)
    return Api(server, token=_store().token(server) if logged_in else None, lang=_lang(args))


def _holder(path: Path, args: argparse.Namespace) -> credentials.Holder:
    return credentials.load_p12(path, credentials.password(args.password_file))


def _ask(args: argparse.Namespace) -> bytes:
    return credentials.password(args.password_file)


def _encryption_key(args: argparse.Namespace) -> credentials.RecipientKey:
    """The private key of --enc-p12, --x25519-key, or the key ``keygen`` stored."""
    if args.enc_p12 is not None:
        return credentials.encryption_key(_holder(args.enc_p12, args))
    path = args.x25519_key or _store().default_key
    if args.x25519_key is None and not path.exists():
        raise Refused("no encryption key: give --enc-p12 (the encryption certificate paired "
                      "with the signing one) or --x25519-key, or run `ebid-client keygen`",
                      "缺少加密密钥：请给出 --enc-p12（与签名证书配对的加密证书）或 "
                      "--x25519-key，或先运行 `ebid-client keygen`")
    return credentials.load_x25519(path, lambda: _ask(args))


# --- commands -------------------------------------------------------------------------------


def _certificate_login(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    holder = _holder(args.p12, args)
    challenge = api.post_json("/api/v1/auth/challenge", {})
    raw = platform.b64decode(challenge.get("challenge") if isinstance(challenge, dict) else None,
                             "challenge")
    signature = sign_detached(raw, key=holder.key, certificate=holder.certificate,
                              chain=holder.chain)
    answer = api.post_json("/api/v1/auth/certificate", {
        "challenge": challenge["challenge"], "signature": platform.b64encode(signature),
    })
    return answer if isinstance(answer, dict) else {}


def _password_login(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    """Officers (agency, supervisor, centre staff) have no company certificate to log in
    with: their account's password opens the session ``share`` needs."""
    secret = credentials.password(args.password_file, env=credentials.ACCOUNT_PASSWORD_ENV,
                                  prompt="password / 密码: ")
    answer = api.post_json("/api/v1/session", {"username": args.username,
                                                "password": secret.decode("utf-8")})
    if isinstance(answer, dict):
        answer.setdefault("user", {"username": args.username, "role": answer.get("role")})
        return answer
    return {}


def cmd_login(args: argparse.Namespace) -> int:
    api = _api(args, logged_in=False)
    answer = _certificate_login(api, args) if args.p12 else _password_login(api, args)
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        raise Refused("the platform gave no session token", "平台未给出会话令牌")
    user: dict[str, Any] = answer.get("user") or {}
    if not isinstance(user, dict):
        user = {}
    _store().update(api.base_url, token=token, user=user)
    name = user.get("display_name") or user.get("username") or ""
    print(_t(args, f"logged in to {api.base_url} as {name}".rstrip(),
             f"已登录 {api.base_url}：{name}".rstrip("：")))
    link = answer.get("login_url")
    if isinstance(link, str) and link:
        url = api.base_url + link if link.startswith("/") else link
        print(_t(args, f"browser login link (valid 2 minutes, once): {url}",
                 f"浏览器登录链接（2 分钟内有效，仅可使用一次）：{url}"))
        if not args.no_browser:
            webbrowser.open(url)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    path = args.output or _store().default_key
    secret = credentials.password(args.password_file) if (
        args.password_file or os.environ.get(credentials.PASSWORD_ENV)) else None
    key = credentials.new_x25519(path, secret)
    public = key.public_key()
    print(_t(args, f"X25519 encryption key written to {path}", f"X25519 加密密钥已写入 {path}"))
    print(_t(args, f"key id {key_id(public)}", f"密钥标识 {key_id(public)}"))
    print(public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode(), end="")
    return 0


def _declared(args: argparse.Namespace) -> sealing.Declared:
    return sealing.Declared(
        tender_id=args.tender, lot=args.lot, price=sealing.check_price(args.price),
        items=sealing.read_items(args.items) if args.items else (),
        duration_days=args.duration_days, quality=args.quality or "",
        project_manager=args.project_manager or "",
    )


def _fingerprint(api: Api, args: argparse.Namespace) -> dict[str, str]:
    try:
        key = platform.fingerprint_key(api)
    except ServerRefused as error:
        if error.status == 401:
            raise Refused(f"log in first: ebid-client --server {api.base_url} login --p12 FILE",
                          f"请先登录：ebid-client --server {api.base_url} login --p12 FILE",
                          ) from error
        raise
    return sealing.hashed_fingerprint(key, machine.collect(args.machine_root))


def cmd_manifest(args: argparse.Namespace) -> int:
    if args.cert is not None:
        certificates = verify.load_certificates(args.cert)
        certificate = certificates[0]
    elif args.p12 is not None:
        certificate = _holder(args.p12, args).certificate
    else:
        raise Refused("give --cert (the signing certificate, PEM) or --p12",
                      "请给出 --cert（签名证书，PEM）或 --p12")
    api = _api(args)
    bid = sealing.bid_fields(_declared(args), _fingerprint(api, args))
    data = sealing.manifest(paths=args.files, bid=bid, certificate=certificate)
    if str(args.output) == "-":
        sys.stdout.buffer.write(data)
    else:
        args.output.write_bytes(data)
        command = (f"  openssl cms -sign -binary -outform DER -signer cert.pem -inkey key.pem "
                   f"-in {args.output} -out manifest.p7s\n")
        print(_t(args, f"manifest written to {args.output}; sign exactly these bytes, for "
                       f"example:\n{command}then seal the same files with the same options "
                       "and --signature manifest.p7s",
                 f"投标清单已写入 {args.output}；请对这些字节原样签名，例如：\n{command}"
                 "然后用相同的文件和选项并加上 --signature manifest.p7s 封装"),
              file=sys.stderr)
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    declared = _declared(args)
    holder = _holder(_signing_p12(args, "the bid is signed with the company's signing "
                                        "certificate", "投标文件须用单位的签名证书签名"), args)
    _check_validity(holder)
    if args.enc_p12 is not None:
        encryption = _holder(args.enc_p12, args)
        _check_pair(holder, encryption)
        bidder_key: credentials.RecipientKey = credentials.encryption_key(encryption)
    else:
        bidder_key = _encryption_key(args)
    signature = None
    if args.signature is not None:
        try:
            signature = args.signature.read_bytes()
        except OSError as error:
            raise Refused(f"cannot read {args.signature}: {error.strerror}",
                          f"无法读取 {args.signature}：{error.strerror}") from error
        if signature.lstrip().startswith(b"-----BEGIN"):
            raise Refused(f"{args.signature} is PEM: give the signature in DER "
                          "(openssl cms -sign ... -outform DER)",
                          f"{args.signature} 是 PEM 格式：请给出 DER 格式的签名"
                          "（openssl cms -sign ... -outform DER）")
    api = _api(args)
    tender = platform.opening_key(api, declared.tender_id)
    bid = sealing.bid_fields(declared, _fingerprint(api, args))
    sealed = sealing.seal_to(
        out=args.output, paths=args.files, bid=bid,
        signer=Signer(holder.key, holder.certificate, holder.chain),
        opening_public_key=tender.setup.public_key, bidder_public_key=bidder_key.public_key(),
        mode=tender.mode, manifest_signature=signature,
    )
    print(_t(args, f"sealed {len(sealed.files)} file(s) into {args.output}",
             f"已将 {len(sealed.files)} 个文件封装为 {args.output}"))
    print(_t(args, f"tender {declared.tender_id} lot {declared.lot}, price {declared.price}, "
                   f"key mode {tender.mode}, {sealed.size} bytes",
             f"招标项目 {declared.tender_id} 第 {declared.lot} 标段，报价 {declared.price}，"
             f"解密方式 {tender.mode}，{sealed.size} 字节"))
    print(_t(args, f"package SHA-256 {sealed.package_sha256}",
             f"投标文件 SHA-256 {sealed.package_sha256}"))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    if not args.package.is_file():
        raise Refused(f"{args.package} is not a file", f"{args.package} 不是文件")
    api = _api(args)
    uploader = upload.Uploader(api, package=args.package, tender_id=args.tender, lot=args.lot,
                               chunk_size=args.chunk_size, retries=args.retries,
                               delay=args.retry_delay, lang=_lang(args),
                               say=lambda text: print(text, file=sys.stderr))
    outcome = uploader.run()
    store = _store()
    signer = verify.receipt_signer(outcome.receipt_der)
    if signer is not None and not store.get(api.base_url).get("receipt_certificate"):
        store.update(api.base_url, receipt_certificate=verify.pem(signer))
    if outcome.resent:
        print(_t(args, f"accepted; receipt saved to {outcome.path}",
                 f"平台已接收；回执已保存到 {outcome.path}"))
    else:
        print(_t(args, f"already accepted; receipt {outcome.path}",
                 f"此前已被接收（仍为当前投标文件）；回执 {outcome.path}"))
    print(upload.show(outcome.receipt))
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    """Withdraw the current bid whose package is PKG (found by its SHA-256 among one's bids)."""
    if not args.package.is_file():
        raise Refused(f"{args.package} is not a file", f"{args.package} 不是文件")
    sha256, _ = upload.digest(args.package)
    api = _api(args)
    found = upload.my_bid(api, args.tender, sha256)
    if found is None:
        raise Refused(f"no bid of yours on tender {args.tender} is this package",
                      f"您在招标项目 {args.tender} 中没有以该文件提交的投标")
    answer = api.post_json(f"/api/v1/tenders/{args.tender}/bids/{found['id']}/withdraw", {})
    ended = answer.get("ended_at") if isinstance(answer, dict) else None
    print(_t(args, f"bid {found['id']} withdrawn ({ended})",
             f"投标 {found['id']} 已撤回（{ended}）"))
    return 0


def cmd_verify_receipt(args: argparse.Namespace) -> int:
    report = verify.Report(say=print)
    try:
        der = args.receipt.read_bytes()
    except OSError as error:
        raise Refused(f"cannot read {args.receipt}: {error.strerror}",
                      f"无法读取 {args.receipt}：{error.strerror}") from error
    trust = None
    if args.platform_cert is not None:
        trust = verify.TrustStore.of(roots=verify.load_certificates(args.platform_cert),
                                     crls=verify.load_crls(args.crl))
    pinned = None
    if trust is None:
        text = _store().get(_server(args)).get("receipt_certificate")
        if isinstance(text, str):
            pinned = x509.load_pem_x509_certificate(text.encode())
    receipt = verify.check_signature(der, trust=trust, pinned=pinned, report=report)
    if receipt is not None:
        fields = receipt.to_dict()
        print(f"      tender {receipt.tender_id} lot {receipt.lot}, package SHA-256 "
              f"{receipt.package_sha256}, received {fields['received_at']}, log index "
              f"{receipt.log_index}")
        if args.package is not None:
            verify.check_package(receipt, args.package, report)
        if args.log or args.log_key is not None:
            log_key = verify.load_log_key(args.log_key) if args.log_key else None
            try:
                verify.check_log(_api(args, logged_in=False), der, receipt, log_key=log_key,
                                 report=report)
            except Unreachable as error:  # a check not made is a check failed, and said so
                report.fail(f"the log: {error.message('en')}")
    print("FAILED" if report.failed else "OK")
    return 1 if report.failed else 0


def _signing_p12(args: argparse.Namespace, why: str, why_zh: str) -> Path:
    """--p12, or the signing file beside --enc-p12 (``ebid pki issue`` writes OUT.p12 and
    OUT.enc.p12)."""
    if args.p12 is not None:
        return Path(args.p12)
    if args.enc_p12 is not None and args.enc_p12.name.endswith(".enc.p12"):
        beside = args.enc_p12.with_name(args.enc_p12.name[: -len(".enc.p12")] + ".p12")
        if beside.exists():
            return beside
    raise Refused(f"give --p12: {why}", f"请给出 --p12：{why_zh}")


def clock() -> datetime:
    """This machine's time (tests replace it with a fixed one)."""
    return datetime.now(UTC)


def _check_validity(holder: credentials.Holder) -> None:
    """A signing certificate outside its validity now: the platform would refuse the bid
    after the whole upload; say so before sealing. By this machine's clock: the platform
    judges by when the last byte arrives, so this only catches what is plainly wrong."""
    cert, now = holder.certificate, clock()
    when = "%Y-%m-%d %H:%M UTC"
    if now >= cert.not_valid_after_utc:
        raise Refused(f"the signing certificate in {holder.path} expired on "
                      f"{cert.not_valid_after_utc:{when}}",
                      f"{holder.path} 中的签名证书已于 {cert.not_valid_after_utc:{when}} 过期")
    if now < cert.not_valid_before_utc:
        raise Refused(f"the signing certificate in {holder.path} is valid only from "
                      f"{cert.not_valid_before_utc:{when}}",
                      f"{holder.path} 中的签名证书自 {cert.not_valid_before_utc:{when}} 起才有效")


def _check_pair(signer: credentials.Holder, encryption: credentials.Holder) -> None:
    """An encryption certificate must be the signing certificate's pair (the same company):
    sealed to another company's key, the bid could only be opened by the officers, and in a
    "both keys needed" tender not at all."""
    mine = credit_code_of(signer.certificate)
    theirs = credit_code_of(encryption.certificate)
    if mine is not None and theirs != mine:
        raise Refused(f"{encryption.path} is not this company's encryption certificate (its "
                      f"credit code is {theirs or 'missing'}, the signing certificate's {mine})",
                      f"{encryption.path} 不是本单位的加密证书（其统一社会信用代码为 "
                      f"{theirs or '无'}，签名证书的为 {mine}）")


_DECRYPTION_ZH = {"decrypted": "已解密", "recovered": "已由开标人员密钥解密",
                  "pending": "待解密", "failed_bidder": "解密失败（投标人原因）",
                  "failed_platform": "解密失败（平台原因）"}


def cmd_decrypt(args: argparse.Namespace) -> int:
    signer = _holder(_signing_p12(args, "the key is sent signed by the bid's signing "
                                        "certificate", "密钥须用投标签名证书签名后发送"), args)
    key = _encryption_key(args)
    results = opening.decrypt(_api(args), tender_id=args.tender, signer=signer, key=key,
                              package=args.package, lang=_lang(args))
    for result in results:
        detail = f" ({result.detail})" if result.detail else ""
        print(_t(args, f"bid {result.bid_id} lot {result.lot}: {result.decryption}{detail}",
                 f"投标 {result.bid_id} 第 {result.lot} 标段："
                 f"{_DECRYPTION_ZH.get(result.decryption, result.decryption)}{detail}"))
    refused = [result for result in results if result.refused]
    if refused:
        raise Refused(f"{len(refused)} of the keys were refused",
                      f"{len(refused)} 个密钥被拒绝")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    answer = opening.share(_api(args), tender_id=args.tender, key=_encryption_key(args))
    print(_t(args, f"share accepted: {answer.get('submitted')} of {answer.get('threshold')} "
                   "needed",
             f"密钥份额已接受：已有 {answer.get('submitted')} 份，需 {answer.get('threshold')} 份"))
    return 0


# --- the parser -----------------------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser, *, p12: bool) -> None:
    if p12:
        parser.add_argument("--p12", type=Path, metavar="FILE",
                            help="the signing certificate and key (PKCS#12)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--enc-p12", type=Path, metavar="FILE",
                       help="the encryption certificate paired with the signing one (P-256)")
    group.add_argument("--x25519-key", type=Path, metavar="FILE",
                       help="an X25519 key made by `ebid-client keygen` (default: the stored "
                            "one)")
    parser.add_argument("--password-file", type=Path, metavar="F",
                        help="the password, else $EBID_P12_PASSWORD, else asked")


def _bid_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tender", type=int, required=True, metavar="T", help="the tender id")
    parser.add_argument("--lot", type=int, default=1, metavar="L", help="the lot (default 1)")
    parser.add_argument("--price", required=True, metavar="P", help="the total price")
    parser.add_argument("--items", type=Path, metavar="ITEMS.csv",
                        help="bill of quantities: code, description, quantity, unit_price")
    parser.add_argument("--duration-days", type=int, metavar="N", help="工期, in days")
    parser.add_argument("--quality", metavar="Q", help="质量承诺")
    parser.add_argument("--project-manager", metavar="NAME", help="项目经理")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILES")
    parser.add_argument("--machine-root", type=Path, default=Path("/"), help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ebid-client",
        description="The bidder's and the opening officer's command line (docs/client.md).")
    parser.add_argument("--server", metavar="URL",
                        help=f"the platform (default ${SERVER_ENV} or {DEFAULT_SERVER})")
    parser.add_argument("--lang", choices=("zh", "en"),
                        default="en" if os.environ.get("LANG", "").startswith("en") else "zh",
                        help="language of the reasons (default from $LANG)")
    sub = parser.add_subparsers(dest="command", required=True)

    login = sub.add_parser("login", help="log in with a certificate; prints a browser link")
    who = login.add_mutually_exclusive_group(required=True)
    who.add_argument("--p12", type=Path, metavar="FILE",
                     help="bidders: the company's signing certificate (PKCS#12)")
    who.add_argument("--username", metavar="NAME",
                     help="officers: log in with the account's password instead")
    login.add_argument("--password-file", type=Path, metavar="F",
                       help="the password, else $EBID_P12_PASSWORD (with --p12) or "
                            "$EBID_PASSWORD (with --username), else asked")
    login.add_argument("--no-browser", action="store_true", help="do not open the link")
    login.set_defaults(func=cmd_login)

    keygen = sub.add_parser("keygen", help="make an X25519 encryption key for sealing")
    keygen.add_argument("-o", "--output", type=Path, metavar="FILE")
    keygen.add_argument("--password-file", type=Path, metavar="F",
                        help="encrypt the key with this password")
    keygen.set_defaults(func=cmd_keygen)

    manifest = sub.add_parser("manifest", help="write the manifest bytes to sign elsewhere")
    _bid_options(manifest)
    manifest.add_argument("--cert", type=Path, metavar="PEM", help="the signing certificate")
    manifest.add_argument("--p12", type=Path, metavar="FILE")
    manifest.add_argument("--password-file", type=Path, metavar="F")
    manifest.set_defaults(func=cmd_manifest)

    seal = sub.add_parser("seal", help="sign and encrypt a bid into a sealed package")
    _bid_options(seal)
    _key_options(seal, p12=True)
    seal.add_argument("--signature", type=Path, metavar="S.p7s",
                      help="a detached CMS signature over the manifest, made elsewhere")
    seal.set_defaults(func=cmd_seal)

    submit = sub.add_parser("submit", help="upload a sealed package (resumable); save the receipt")
    submit.add_argument("package", type=Path, metavar="PKG")
    submit.add_argument("--tender", type=int, required=True, metavar="T")
    submit.add_argument("--lot", type=int, default=1, metavar="L")
    submit.add_argument("--chunk-size", type=int, default=upload.DEFAULT_CHUNK, metavar="BYTES")
    submit.add_argument("--retries", type=int, default=8, metavar="N")
    submit.add_argument("--retry-delay", type=float, default=1.0, metavar="SECONDS")
    submit.set_defaults(func=cmd_submit)

    withdraw = sub.add_parser("withdraw", help="withdraw the current bid sent as PKG")
    withdraw.add_argument("package", type=Path, metavar="PKG")
    withdraw.add_argument("--tender", type=int, required=True, metavar="T")
    withdraw.set_defaults(func=cmd_withdraw)

    check = sub.add_parser("verify-receipt", help="check a receipt, its package and the log")
    check.add_argument("receipt", type=Path, metavar="RECEIPT")
    check.add_argument("--package", type=Path, metavar="PKG")
    check.add_argument("--platform-cert", type=Path, metavar="PEM")
    check.add_argument("--crl", type=Path, action="append", default=[], metavar="CRL")
    check.add_argument("--log", action="store_true",
                       help="check inclusion in the latest signed head of the log")
    check.add_argument("--log-key", type=Path, metavar="PUB.pem",
                       help="the log's public key: also check the head's signature")
    check.set_defaults(func=cmd_verify_receipt)

    decrypt = sub.add_parser("decrypt", help="at the opening: send your bids' keys, signed")
    decrypt.add_argument("--tender", type=int, required=True, metavar="T")
    decrypt.add_argument("--package", type=Path, metavar="PKG",
                         help="the sealed package (else its header is downloaded)")
    _key_options(decrypt, p12=True)
    decrypt.set_defaults(func=cmd_decrypt)

    share = sub.add_parser("share", help="officers: submit your share of the opening key")
    share.add_argument("--tender", type=int, required=True, metavar="T")
    _key_options(share, p12=False)
    share.set_defaults(func=cmd_share)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("tender", "lot", "chunk_size", "duration_days", "retries"):
        value = getattr(args, name, None)
        if value is not None and value < (0 if name == "retries" else 1):
            parser.error(f"--{name.replace('_', '-')} must be at least "
                         f"{0 if name == 'retries' else 1}")
    try:
        return int(args.func(args))
    except Refused as error:
        print(f"ebid-client: {error.message(_lang(args))}", file=sys.stderr)
        if isinstance(error, ServerRefused) and error.status == 401:
            print("ebid-client: " + ("log in (again): ebid-client login --p12 FILE, or "
                                     "--username NAME for officers" if _lang(args) == "en" else
                                     "请（重新）登录：ebid-client login --p12 FILE，"
                                     "开标人员用 --username NAME"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

