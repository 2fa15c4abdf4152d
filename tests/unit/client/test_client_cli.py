"""``ebid-client`` against the fake platform: every command end to end over real HTTP, the
exit statuses (0 done, 1 refused with the reason on stderr, 2 usage), resumed uploads, and
argument handling."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fakeplatform import NOW, PASSWORD, TENDER, TOKEN, Holder, Platform, serve

from ebid.client import cli, sealing
from ebid.client.cli import main
from ebid.client.errors import Refused
from signing.opening_key import (
    OfficerRecipient,
    OpeningKeySetup,
    generate_opening_key,
    recover_private_key,
)
from signing.pki import DevPKI
from signing.pki.devpki import write_pair
from signing.sealed import inspect, open_sealed, read_header, unwrap_data_key

# --- the test material: EC test CAs, a bidder, three officers, a tender key, the fake platform


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW, families=("ec",))


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's clock at the fake platform's time, as the certificates were issued."""
    monkeypatch.setattr(cli, "clock", lambda: NOW)


def _holder(pki: DevPKI, directory: Path, name: str, **issue: object) -> Holder:
    pair = pki.issue(name=name, now=NOW, family="ec", **issue)  # type: ignore[arg-type]
    p12, enc = write_pair(pair, directory / f"{name}.p12", password=PASSWORD)
    return Holder(pair, p12, enc)


@pytest.fixture(scope="session")
def bidder(pki: DevPKI, tmp_path_factory: pytest.TempPathFactory) -> Holder:
    return _holder(pki, tmp_path_factory.mktemp("bidder"), "华东建设有限公司", kind="company")


@pytest.fixture(scope="session")
def officers(pki: DevPKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Holder]:
    directory = tmp_path_factory.mktemp("officers")
    return {role: _holder(pki, directory, f"officer-{role}", kind="officer", role=role)
            for role in ("agency", "supervisor", "centre")}


@pytest.fixture(scope="session")
def setup(officers: dict[str, Holder]) -> OpeningKeySetup:
    return generate_opening_key(
        officers=[OfficerRecipient(f"officer-{role}", role,  # type: ignore[arg-type]
                                   holder.pair.encryption.certificate)
                  for role, holder in officers.items()],
        tender_id=str(TENDER), now=NOW)


@pytest.fixture
def platform(setup: OpeningKeySetup) -> Iterator[tuple[Platform, str]]:
    fake = Platform(setup, TENDER)
    server, url = serve(fake)
    try:
        yield fake, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "client-home"
    monkeypatch.setenv("EBID_CLIENT_HOME", str(home))
    monkeypatch.setenv("EBID_P12_PASSWORD", PASSWORD)
    monkeypatch.delenv("EBID_SERVER", raising=False)
    return home


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], client_home: Path):  # type: ignore[no-untyped-def]
    """``run(*argv)``: the client's main() in-process, its exit status and output."""

    def runner(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as exit_:
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return runner


# --- the tests ------------------------------------------------------------------------------


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return [write(tmp_path / "技术标.pdf", b"%PDF-1.7 technical" * 100),
            write(tmp_path / "商务标.xlsx", b"PK business" * 50)]


@pytest.fixture
def items(tmp_path: Path) -> Path:
    return write(tmp_path / "items.csv", "项目编码,项目名称,工程量,综合单价\n"
                 "010101001,平整场地,\"1,200.5\",3.20\n\n010101002,挖土方,300,12\n"
                 .encode("gb18030"))


def login(run, url: str, bidder: Holder):  # type: ignore[no-untyped-def]
    return run("--server", url, "login", "--p12", str(bidder.p12), "--no-browser")


def seal(run, url: str, bidder: Holder, out: Path, files: list[Path],  # type: ignore[no-untyped-def]
         *extra: str):
    return run("--server", url, "seal", "--tender", str(TENDER), "--lot", "2", "--price",
               "1234567.50", "--p12", str(bidder.p12), "-o", str(out), *extra,
               *map(str, files))


def test_login_stores_the_token_and_prints_the_link(run, platform, bidder: Holder,
                                                   client_home: Path) -> None:
    fake, url = platform
    result = login(run, url, bidder)
    assert result.status == 0, result.err
    assert f"{url}/login/link/secret" in result.out
    sessions = json.loads((client_home / "sessions.json").read_text())
    assert sessions[url]["token"] == TOKEN
    assert (client_home / "sessions.json").stat().st_mode & 0o077 == 0
    assert "华东建设有限公司" in fake.logged_in[0]


def test_wrong_password_is_refused(run, platform, bidder: Holder,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = platform
    monkeypatch.setenv("EBID_P12_PASSWORD", "wrong")
    result = login(run, url, bidder)
    assert result.status == 1
    assert "wrong password" in run("--lang", "en", "--server", url, "login", "--p12",
                                   str(bidder.p12), "--no-browser").err


def test_seal_needs_a_login_for_the_fingerprint_key(run, platform, bidder: Holder,
                                                    files: list[Path], tmp_path: Path) -> None:
    _, url = platform
    result = seal(run, url, bidder, tmp_path / "bid.sealed", files, "--enc-p12",
                  str(bidder.enc_p12))
    assert result.status == 1
    assert "login" in result.err
    assert not (tmp_path / "bid.sealed").exists()


def test_seal_finds_the_signing_file_and_refuses_another_companys_pair(
        run, platform, bidder: Holder, pki: DevPKI, files: list[Path], tmp_path: Path) -> None:
    _, url = platform
    assert login(run, url, bidder).status == 0
    base = ("--lang", "en", "--server", url, "seal", "--tender", str(TENDER), "--lot", "2",
            "--price", "1234567.50")
    # No --p12: the signing file beside --enc-p12, as decrypt does (name.p12, name.enc.p12).
    beside = run(*base, "--enc-p12", str(bidder.enc_p12), "-o", str(tmp_path / "a.sealed"),
                 *map(str, files))
    assert beside.status == 0, beside.err
    lone = write(tmp_path / "lone.enc.p12", bidder.enc_p12.read_bytes())
    missing = run(*base, "--enc-p12", str(lone), "-o", str(tmp_path / "b.sealed"),
                  *map(str, files))
    assert missing.status == 1 and "give --p12" in missing.err
    assert "Traceback" not in missing.err
    other = _holder(pki, tmp_path, "华西建设有限公司", kind="company")
    foreign = run(*base, "--p12", str(bidder.p12), "--enc-p12", str(other.enc_p12),
                  "-o", str(tmp_path / "c.sealed"), *map(str, files))
    assert foreign.status == 1
    assert "is not this company's encryption certificate" in foreign.err
    assert not (tmp_path / "c.sealed").exists()
    # A signing certificate out of its validity is refused before sealing.
    lapsed = _holder(pki, tmp_path, "过期建设有限公司", kind="company",
                     not_before=NOW - timedelta(days=400), days=365)
    expired = run(*base, "--p12", str(lapsed.p12), "--enc-p12", str(lapsed.enc_p12),
                  "-o", str(tmp_path / "d.sealed"), *map(str, files))
    assert expired.status == 1 and "expired on 2026-01-26 01:00 UTC" in expired.err


def test_seal_submit_verify_decrypt(run, platform, bidder: Holder, files: list[Path],
                                   items: Path, tmp_path: Path) -> None:
    fake, url = platform
    assert login(run, url, bidder).status == 0
    package = tmp_path / "bid.sealed"
    result = seal(run, url, bidder, package, files, "--enc-p12", str(bidder.enc_p12),
                  "--items", str(items), "--duration-days", "180", "--quality", "合格",
                  "--project-manager", "王工", "--machine-root", str(tmp_path / "no-sys"))
    assert result.status == 0, result.err
    assert "解密方式 either" in result.out  # the client speaks Chinese unless $LANG is en

    # the package opens with the bidder's encryption key and says what was declared
    with package.open("rb") as stream:
        header = read_header(stream)
    data_key = unwrap_data_key(header, bidder.pair.encryption.key, "bidder")
    opened = open_sealed(io.BytesIO(package.read_bytes()), data_key)
    manifest = json.loads(opened.manifest_bytes)
    assert (manifest["tender"], manifest["lot"], manifest["price"]) == (str(TENDER), "2",
                                                                          "1234567.50")
    assert manifest["items"][0] == {"code": "010101001", "description": "平整场地",
                                    "quantity": "1200.5", "unit_price": "3.20"}
    assert (manifest["duration_days"], manifest["quality"], manifest["project_manager"]) == (
        180, "合格", "王工")
    # a machine with nothing readable but its host name (the fake root is empty)
    assert set(manifest["client_fingerprint"]) <= {"hostname.1", "mac.1"}

    # an upload whose answer to the second chunk is lost resumes from the platform's offset
    fake.drop_puts = {2}
    result = run("--server", url, "submit", str(package), "--tender", str(TENDER), "--lot",
                 "2", "--retry-delay", "0")
    assert result.status == 0, result.err
    assert "秒后重试" in result.err
    assert fake.bids[0].package == package.read_bytes()
    receipt = package.with_name("bid.sealed.receipt.p7m")
    assert receipt.exists()
    assert hashlib.sha256(package.read_bytes()).hexdigest() in result.out
    assert not package.with_name("bid.sealed.upload.json").exists()

    # once more: the saved receipt, nothing sent (and the client's own words in Chinese)
    again = run("--lang", "en", "--server", url, "submit", str(package), "--tender",
                str(TENDER), "--lot", "2")
    assert again.status == 0
    assert "already accepted" in again.out
    again_zh = run("--lang", "zh", "--server", url, "submit", str(package), "--tender",
                   str(TENDER), "--lot", "2")
    assert again_zh.status == 0 and "此前已被接收" in again_zh.out
    assert len(fake.bids) == 1
    # ... unless the bid was withdrawn since (here by the client's own command): the platform
    # would refuse it, and so does this
    withdrawn = run("--lang", "en", "--server", url, "withdraw", str(package), "--tender",
                    str(TENDER))
    assert withdrawn.status == 0 and "bid 1 withdrawn (2026-03-02T02:00:00Z)" in withdrawn.out
    again_withdrawn = run("--server", url, "withdraw", str(package), "--tender", str(TENDER))
    assert again_withdrawn.status == 1 and "bid_not_current" in again_withdrawn.err
    assert fake.bids[0].status == "withdrawn"
    again = run("--lang", "en", "--server", url, "submit", str(package), "--tender",
                str(TENDER), "--lot", "2")
    assert again.status == 1
    assert "this package was withdrawn (2026-03-02T02:00:00Z)" in again.err
    fake.bids[0].status = "submitted"
    # ... and a package for another tender or lot is refused before a byte is sent
    uploads = len(fake.uploads)
    wrong = run("--lang", "en", "--server", url, "submit", str(package), "--tender",
                str(TENDER), "--lot", "1")
    assert wrong.status == 1
    assert f"was sealed for tender {TENDER} lot 2, not tender {TENDER} lot 1" in wrong.err
    assert len(fake.uploads) == uploads

    # the receipt: pinned certificate, the package, the log with and without the log key
    checked = run("--server", url, "verify-receipt", str(receipt), "--package", str(package),
                  "--log")
    assert checked.status == 0, checked.out
    assert "pinned" in checked.out and "entry 0 of the head's tree of 1" in checked.out
    log_key = write(tmp_path / "log.pem", fake.log_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    platform_cert = write(tmp_path / "platform.pem", fake.receipt_cert.public_bytes(
        serialization.Encoding.PEM))
    checked = run("--server", url, "verify-receipt", str(receipt), "--platform-cert",
                  str(platform_cert), "--log-key", str(log_key))
    assert checked.status == 0, checked.out
    assert "head signature" in checked.out
    other = write(tmp_path / "other.sealed", package.read_bytes() + b"x")
    checked = run("--server", url, "verify-receipt", str(receipt), "--package", str(other))
    assert checked.status == 1 and "FAIL  other.sealed is not the package" in checked.out
    bidder_cert = write(tmp_path / "bidder.pem", bidder.pair.signing.certificate.public_bytes(
        serialization.Encoding.PEM))
    checked = run("--server", url, "verify-receipt", str(receipt), "--platform-cert",
                  str(bidder_cert))
    assert checked.status == 1 and "FAIL  receipt" in checked.out

    # the opening: the data key, signed, from the downloaded header
    result = run("--lang", "en", "--server", url, "decrypt", "--tender", str(TENDER),
                 "--enc-p12", str(bidder.enc_p12))
    assert result.status == 0, result.err
    assert "bid 1 lot 2: decrypted" in result.out
    assert base64.b64decode(fake.keys_received[0]["data_key"]) == data_key
    result = run("--server", url, "decrypt", "--tender", str(TENDER), "--enc-p12",
                 str(bidder.enc_p12), "--package", str(package))
    assert result.status == 0 and "投标 1 第 2 标段：已解密" in result.out
    assert len(fake.keys_received) == 1  # nothing sent for a bid no longer pending


def test_a_new_run_resumes_the_upload_of_one_that_gave_up(run, platform, bidder: Holder,
                                                          files: list[Path],
                                                          tmp_path: Path) -> None:
    fake, url = platform
    login(run, url, bidder)
    package = tmp_path / "bid.sealed"
    assert seal(run, url, bidder, package, files, "--enc-p12", str(bidder.enc_p12)).status == 0
    fake.drop_puts = {2}
    submit = ("--lang", "en", "--server", url, "submit", str(package), "--tender",
              str(TENDER), "--lot", "2")
    gave_up = run(*submit, "--retries", "0")
    assert gave_up.status == 1 and "cannot be reached" in gave_up.err
    state = json.loads(package.with_name("bid.sealed.upload.json").read_text())
    assert state["upload_id"] in fake.uploads
    resumed = run(*submit)
    assert resumed.status == 0, resumed.err
    assert f"resuming upload {state['upload_id']} at byte 8192" in resumed.err
    assert len(fake.bids) == 1 and fake.bids[0].package == package.read_bytes()
    assert fake.uploads == {}


def test_an_incomplete_upload_at_complete_is_resumed(run, platform, bidder: Holder,
                                                      files: list[Path],
                                                      tmp_path: Path) -> None:
    fake, url = platform
    login(run, url, bidder)
    package = tmp_path / "bid.sealed"
    assert seal(run, url, bidder, package, files, "--enc-p12", str(bidder.enc_p12)).status == 0
    fake.lose_on_complete = 1000
    done = run("--lang", "en", "--server", url, "submit", str(package), "--tender",
               str(TENDER), "--lot", "2")
    assert done.status == 0, done.err
    assert "resuming upload" in done.err
    assert len(fake.bids) == 1 and fake.bids[0].package == package.read_bytes()


def test_the_log_checks_fail_with_their_reason(run, platform, bidder: Holder,
                                               files: list[Path], tmp_path: Path) -> None:
    fake, url = platform
    login(run, url, bidder)
    package = tmp_path / "bid.sealed"
    seal(run, url, bidder, package, files, "--enc-p12", str(bidder.enc_p12))
    assert run("--server", url, "submit", str(package), "--tender", str(TENDER), "--lot",
               "2").status == 0
    receipt = str(package.with_name("bid.sealed.receipt.p7m"))
    fake.head_lag = 1
    result = run("--server", url, "verify-receipt", receipt, "--log")
    assert result.status == 1 and "try again after the next head" in result.out
    fake.head_lag, fake.bad_proof = 0, True
    result = run("--server", url, "verify-receipt", receipt, "--log")
    assert result.status == 1 and "FAIL  inclusion" in result.out
    other_key = write(tmp_path / "other.pem", ed25519.Ed25519PrivateKey.generate().public_key()
                      .public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    result = run("--server", url, "verify-receipt", receipt, "--log-key", str(other_key))
    assert result.status == 1 and "not signed by this log key" in result.out
    # The log out of reach: the check is said to have failed, and the verdict still printed.
    result = run("--server", "http://127.0.0.1:9", "verify-receipt", receipt, "--log")
    assert result.status == 1
    assert "FAIL  the log: the platform cannot be reached" in result.out
    assert result.out.rstrip().endswith("FAILED")


def test_both_mode_sends_the_bidders_half(run, platform, bidder: Holder, files: list[Path],
                                          tmp_path: Path, setup, officers) -> None:
    fake, url = platform
    fake.mode = "both"
    login(run, url, bidder)
    assert run("keygen").status == 0
    package = tmp_path / "bid.sealed"
    assert seal(run, url, bidder, package, files).status == 0  # the stored X25519 key
    header = read_header(package.open("rb"))
    assert header.key_mode == "both" and header.wrap("bidder").alg.startswith("hpke-x25519")
    assert run("--server", url, "submit", str(package), "--tender", str(TENDER), "--lot",
               "2").status == 0
    result = run("--server", url, "decrypt", "--tender", str(TENDER), "--p12",
                 str(bidder.p12))
    assert result.status == 0, result.err
    half = base64.b64decode(fake.keys_received[0]["data_key"])
    # joined with the officers' half, it opens the package
    for role in ("agency", "centre"):
        result = run("--server", url, "share", "--tender", str(TENDER), "--enc-p12",
                     str(officers[role].enc_p12))
        assert result.status == 0, result.err
    assert "已有 2 份，需 2 份" in result.out
    shares = list(fake.shares.values())
    opening_key = recover_private_key(shares, setup)
    data_key = unwrap_data_key(header, opening_key, "opening", other_share=half)
    open_sealed(io.BytesIO(package.read_bytes()), data_key)


def test_officers_log_in_with_their_password(run, platform, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = platform
    result = run("--server", url, "login", "--username", "officer-centre", "--password-file",
                 str(write(tmp_path / "pw", "pw\nignored\n")))
    assert result.status == 0, result.err
    assert "officer-centre" in result.out and "link" not in result.out
    monkeypatch.setenv("EBID_PASSWORD", "wrong")
    result = run("--lang", "en", "--server", url, "login", "--username", "officer-centre")
    assert result.status == 1 and "Wrong username or password" in result.err
    assert run("--server", url, "login", "--username", "x", "--p12", "y").status == 2


def test_share_refused_for_a_key_that_holds_none(run, platform, bidder: Holder) -> None:
    _, url = platform
    login(run, url, bidder)
    result = run("--lang", "en", "--server", url, "share", "--tender", str(TENDER),
                 "--enc-p12", str(bidder.enc_p12))
    assert result.status == 1
    assert "no share" in result.err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary")
def test_manifest_signed_with_openssl_is_sealed(run, platform, bidder: Holder,
                                                files: list[Path], tmp_path: Path) -> None:
    _, url = platform
    login(run, url, bidder)
    cert = write(tmp_path / "cert.pem", bidder.pair.signing.certificate.public_bytes(
        serialization.Encoding.PEM))
    key = write(tmp_path / "key.pem", bidder.pair.signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    options = ["--tender", str(TENDER), "--lot", "2", "--price", "99", "--machine-root",
               str(tmp_path)]
    manifest = tmp_path / "manifest.json"
    result = run("--server", url, "manifest", *options, "--cert", str(cert), "-o",
                 str(manifest), *map(str, files))
    assert result.status == 0, result.err
    assert "openssl cms -sign" in result.err
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-signer",
                    str(cert), "-inkey", str(key), "-in", str(manifest), "-out",
                    str(tmp_path / "manifest.p7s")], check=True)
    package = tmp_path / "bid.sealed"
    result = run("--server", url, "seal", *options, "--p12", str(bidder.p12), "--enc-p12",
                 str(bidder.enc_p12), "--signature", str(tmp_path / "manifest.p7s"), "-o",
                 str(package), *map(str, files))
    assert result.status == 0, result.err
    # a signature over other bytes is refused and leaves no package
    result = run("--server", url, "seal", *[o if o != "99" else "100" for o in options],
                 "--p12", str(bidder.p12), "--enc-p12", str(bidder.enc_p12), "--signature",
                 str(tmp_path / "manifest.p7s"), "-o", str(tmp_path / "other.sealed"),
                 *map(str, files))
    assert result.status == 1
    assert not (tmp_path / "other.sealed").exists()
    assert inspect(package.open("rb")).signer == bidder.pair.signing.certificate
    # the same signature as PEM: named for what it is
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "PEM", "-signer",
                    str(cert), "-inkey", str(key), "-in", str(manifest), "-out",
                    str(tmp_path / "manifest.pem")], check=True)
    result = run("--lang", "en", "--server", url, "seal", *options, "--p12", str(bidder.p12),
                 "--enc-p12", str(bidder.enc_p12), "--signature", str(tmp_path / "manifest.pem"),
                 "-o", str(tmp_path / "pem.sealed"), *map(str, files))
    assert result.status == 1 and "is PEM: give the signature in DER" in result.err


@pytest.mark.parametrize("argv", [
    [],
    ["seal", "--price", "1", "-o", "x", "f"],  # no --tender
    ["seal", "--tender", "x", "--price", "1", "-o", "x", "f"],
    ["seal", "--tender", "0", "--price", "1", "-o", "x", "f"],
    ["submit", "pkg"],
    ["decrypt", "--tender", "1", "--enc-p12", "a", "--x25519-key", "b"],
    ["login"],
    ["--lang", "fr", "keygen"],
])
def test_usage_errors_exit_2(run, argv: list[str]) -> None:
    assert run(*argv).status == 2


def test_refusals_exit_1_with_the_reason(run, tmp_path: Path) -> None:
    result = run("--lang", "en", "submit", str(tmp_path / "missing"), "--tender", "1")
    assert (result.status, result.err.strip()) == (
        1, f"ebid-client: {tmp_path / 'missing'} is not a file")
    result = run("--server", "ftp://example", "submit", __file__, "--tender", "1")
    assert result.status == 1 and "http" in result.err
    result = run("--lang", "en", "--server", "http://127.0.0.1:9", "submit", __file__,
                 "--tender", "1", "--retries", "0")
    # Not a package: said before anything is sent (the platform would refuse it whole)
    assert result.status == 1 and "is not a sealed bid package" in result.err


def test_keygen_keeps_an_existing_key(run, client_home: Path) -> None:
    assert run("keygen").status == 0
    assert (client_home / "bidder-x25519.pem").stat().st_mode & 0o077 == 0
    result = run("--lang", "en", "keygen")
    assert result.status == 1 and "exists" in result.err


def test_keygen_encrypts_with_a_password(run, tmp_path: Path) -> None:
    secret = write(tmp_path / "pw", PASSWORD + "\n")
    assert run("keygen", "-o", str(tmp_path / "k.pem"), "--password-file", str(secret)).status == 0
    assert b"ENCRYPTED" in (tmp_path / "k.pem").read_bytes()


def test_items_csv(tmp_path: Path, items: Path) -> None:
    assert [(i.code, i.quantity, i.unit_price) for i in sealing.read_items(items)] == [
        ("010101001", "1200.5", "3.20"), ("010101002", "300", "12")]
    utf8 = write(tmp_path / "u.csv", "\ufeffcode,description,quantity,unit_price\nA,土方,1,2\n")
    assert sealing.read_items(utf8)[0].description == "土方"
    for bad, reason in (("code,quantity,unit_price\nA,1,2\n", "description"),
                        ("code,description,quantity,unit_price\nA,x,-1,2\n", "line 2"),
                        ("code,description,quantity,unit_price\n,x,1,2\n", "code is empty"),
                        ("", "empty")):
        with pytest.raises(Refused, match=reason):
            sealing.read_items(write(tmp_path / "bad.csv", bad))


def test_price_must_be_a_decimal() -> None:
    assert sealing.check_price("1,234.50") == "1234.50"
    for bad in ("abc", "-1", "NaN", "1e400000000000"):
        with pytest.raises(Refused):
            sealing.check_price(bad)


def test_the_console_script_is_installed() -> None:
    script = shutil.which("ebid-client", path=str(Path(__file__).parents[3] / ".venv" / "bin"))
    assert script is not None
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "verify-receipt" in result.stdout

