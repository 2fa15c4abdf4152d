"""The whole life of a tender, clicked through in Chromium by the four roles, with sealed bids.

A real server runs in a subprocess (tests/browser/server_app.py) on its own database: a temporary
SQLite file, or a throw-away PostgreSQL database next to EBID_TEST_DATABASE_URL. Only the first
centre admin is seeded; everything else is done through the pages, as a person would: the admin
opens the agency and supervisor accounts and an opening room, accepts the development CAs and
uploads their CRLs; the admin, the supervisor and the agency register their encryption
certificates on 我的证书 (they are the tender's opening officers); the agency registers and
publishes the tender, whose page then shows its opening key. Four bidders sign up, log in with
their certificate (the real ``ebid-client login``, whose one-time link logs the browser in),
seal their bids with the real ``ebid-client seal`` and upload the ``.sealed`` files through the
bid page, which answers with the receipt (downloaded as .p7m). After the deadline the opening
page runs the decryption window live: three bidders send their keys with
``ebid-client decrypt`` and the page, polling on its own, shows their prices; a bidder objects
there and the agency answers; the fourth bidder never sends its key, and when the window ends
the page turns by itself into the signed opening record with that bid failed through the
bidder. Then the supervisor reads the audit trail, the agency records the deposits, enters the
ranking, publishes the candidates and awards, and the bidders and the public see the result.

Time moves by rewriting the server's clock file; the test never sleeps, it waits on page content
(with timeouts) or reloads a page until the scheduler has acted. Each step leaves a full-page
screenshot in test-artifacts/screenshots/ for a person to look at. The development PKI is made
in the test's temporary directory; no key is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect, sync_playwright

from kernel.accounts.creditcode import make_code
from signing.cms import verify_attached
from signing.pki.devpki import DevPKI, write_pair

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs Debian's chromium on PATH (.ci/run installs it; Playwright's own "
        "browser download does not work here)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(sys.executable).with_name("ebid-client")
SERVER_APP = Path(__file__).with_name("server_app.py")
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

BEIJING = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)  # a Monday, as in tests/conftest.py
DEADLINE = datetime(2026, 3, 27, 9, 30, tzinfo=BEIJING)  # a Friday, 25 days later


def beijing(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


PASSWORD = "Jiaoyi#2026pw"  # meets the policy and contains no username below

TITLE = "城西污水处理厂提标改造工程施工"
TENDERER = "城西水务投资有限公司"
AGENCY_ORG = "城西招标代理有限公司"
AUTHORITY_ORG = "城西区住房和城乡建设局"
ROOM = "第一开标室"


@dataclass(frozen=True)
class Bidder:
    n: int
    name: str
    price: str
    manager: str
    sends_key: bool = True

    @property
    def username(self) -> str:
        return f"bidder{self.n}"

    @property
    def credit_code(self) -> str:
        return make_code(f"browser-bidder-{self.n}")


BIDDERS = (
    Bidder(1, "城西建设集团有限公司", "10980000.00", "张工"),
    Bidder(2, "江南路桥工程有限公司", "11050000.00", "李工"),
    Bidder(3, "华东市政建设有限公司", "11100000.00", "王工"),
    # Never sends its key at the opening: its bid fails through the bidder. With the other
    # three opened the lot still has the three bids an open tender needs.
    Bidder(4, "华南水务工程有限公司", "10890000.00", "赵工", sends_key=False),
)
OPENED = tuple(b for b in BIDDERS if b.sends_key)

# The development PKI's certificates and CRLs are dated from here, for ten years: every
# instant of the server's clock and the real time (which ebid-client checks by) fall inside.
PKI_NOW = datetime(2025, 1, 1, tzinfo=ZoneInfo("UTC"))
PKI_DAYS = 3650
P12_PASSWORD = "Zhengshu#browser"


# --- the server under test --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _database(tmp_path: Path) -> Iterator[str]:
    """A database for this test alone: SQLite in tmp, or a fresh PostgreSQL database (the
    conftest's session database stays untouched, so other tests are not disturbed)."""
    base = os.environ.get("EBID_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite://{tmp_path}/browser.sqlite3"
        return
    import psycopg

    name = f"test_browser_{os.getpid()}"
    parts = urlsplit(base)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    admin_dsn = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    base_url: str
    clock_file: Path

    def set_clock(self, at: datetime) -> None:
        """Move the server's time (read by tests/browser/server_app.py:FileClock)."""
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(at.isoformat(), encoding="utf-8")
        os.replace(tmp, self.clock_file)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    clock_file = tmp_path / "clock.txt"
    live = Server(f"http://127.0.0.1:{port}", clock_file)
    live.set_clock(T0)
    log_path = tmp_path / "server.log"
    with _database(tmp_path) as database_url, log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(SERVER_APP),
                "--database-url",
                database_url,
                "--data-dir",
                str(tmp_path / "data"),
                "--clock-file",
                str(clock_file),
                "--port",
                str(port),
                "--admin-username",
                "admin",
                "--admin-password",
                PASSWORD,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(live, proc, log_path)
            yield live
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            SHOTS.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, SHOTS.parent / "browser-server.log")


def _wait_until_up(live: Server, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(live.url("/"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)  # polling for the server to come up, with a timeout
    pytest.fail(f"the server did not come up in 60 s:\n{log_path.read_text()}")


def upload(name: str, mime_type: str, content: str) -> FilePayload:
    """A file as the person picks it in the file chooser."""
    return {"name": name, "mimeType": mime_type, "buffer": content.encode()}


# --- the certificates and the bidder's client -------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """What the CAs hand out, as files: what a person picks in a file chooser or gives
    ebid-client."""

    ca_certificates: tuple[Path, ...]  # root first, then the issuing CA (PEM)
    crls: tuple[Path, ...]  # theirs (DER)
    officer_certificates: dict[str, Path]  # username -> encryption certificate (PEM)
    p12: dict[str, tuple[Path, Path]]  # bidder username -> (signing, encryption) PKCS#12


def make_pki(directory: Path, officers: dict[str, str]) -> Pki:
    """An EC P-256 development PKI; ``officers`` maps usernames to opening roles."""
    from cryptography.hazmat.primitives.serialization import Encoding

    pki = DevPKI.create(directory / "ca", now=PKI_NOW, families=("ec",))
    pki.publish_crls("ec", now=PKI_NOW, days=PKI_DAYS)  # the first ones last a week only
    certificates = {}
    for username, role in officers.items():
        pair = pki.issue(kind="officer", name=username, role=role,  # type: ignore[arg-type]
                         now=PKI_NOW, family="ec", days=PKI_DAYS)
        path = directory / f"{username}-encryption.pem"
        path.write_bytes(pair.encryption.certificate.public_bytes(Encoding.PEM))
        certificates[username] = path
    p12 = {}
    for bidder in BIDDERS:
        pair = pki.issue(kind="company", name=bidder.name, credit_code=bidder.credit_code,
                         now=PKI_NOW, family="ec", days=PKI_DAYS)
        p12[bidder.username] = write_pair(pair, directory / f"{bidder.username}.p12",
                                          password=P12_PASSWORD)
    levels = ("root", "intermediate")
    return Pki(
        ca_certificates=tuple(directory / "ca" / "ec" / f"{level}.crt.pem" for level in levels),
        crls=tuple(pki.crl_path(f"ec/{level}") for level in levels),
        officer_certificates=certificates,
        p12=p12,
    )


def ebid_client(server: Server, home: Path, *argv: str) -> str:
    """One run of the installed ``ebid-client`` console script, as the bidder types it."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EBID_CLIENT_HOME": str(home / "config"),
           "EBID_P12_PASSWORD": P12_PASSWORD}
    result = subprocess.run(
        [str(CLIENT), "--server", server.base_url, "--lang", "en", *argv],
        capture_output=True, text=True, env=env, cwd=home, timeout=60, check=False,
    )
    assert result.returncode == 0, (
        f"ebid-client {argv[0]} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def client_login(server: Server, home: Path, p12: Path) -> str:
    """``ebid-client login``: the one-time link that logs a browser in as the same user."""
    out = ebid_client(server, home, "login", "--p12", str(p12), "--no-browser")
    return next(line.split(": ", 1)[1].strip() for line in out.splitlines()
                if "login link" in line)


# --- the walk ---------------------------------------------------------------------------------


def test_tender_lifecycle_in_the_browser(server: Server, tmp_path: Path) -> None:
    officers = {"admin": "centre", "supervisor1": "supervisor", "agency1": "agency"}
    pki = make_pki(tmp_path / "pki", officers)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("[0-9][0-9]-*.png"):
        old.unlink()
    counter = iter(range(1, 100))

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=SHOTS / f"{next(counter):02d}-{name}.png", full_page=True)

    def flash(page: Page, text: str) -> None:
        expect(page.locator(".flash")).to_contain_text(text)

    def status(page: Page, label: str) -> None:
        expect(page.locator("h1 .badge")).to_have_text(label)

    def reload_until(page: Page, text: str, timeout: float = 20) -> None:
        """Reload until ``text`` shows: the scheduler acts on its own tick."""
        give_up = time.monotonic() + timeout
        while True:
            page.reload()
            if page.get_by_text(text, exact=True).count():
                return
            if time.monotonic() > give_up:
                raise AssertionError(f"{text!r} did not appear on {page.url} in {timeout} s")
            page.wait_for_timeout(250)

    with sync_playwright() as pw:
        browser: Browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=10_000)

        @contextlib.contextmanager
        def visitor() -> Iterator[Page]:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            context.set_default_timeout(15_000)
            try:
                yield context.new_page()
            finally:
                context.close()

        @contextlib.contextmanager
        def logged_in(username: str, role_label: str) -> Iterator[Page]:
            with visitor() as page:
                page.goto(server.url("/login"))
                page.get_by_label("用户名", exact=True).fill(username)
                page.get_by_label("密码", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="登录", exact=True).click()
                expect(page).to_have_url(server.url("/workspace"))
                expect(page.locator(".who")).to_contain_text(role_label)
                yield page

        @contextlib.contextmanager
        def logged_in_by_certificate(bidder: Bidder) -> Iterator[Page]:
            """``ebid-client login`` signs the server's challenge with the company
            certificate; its one-time link logs the browser in as the same account."""
            link = client_login(server, tmp_path / bidder.username, pki.p12[bidder.username][0])
            with visitor() as page:
                page.goto(link)
                expect(page.locator(".who")).to_contain_text("投标人")
                yield page

        def register_encryption_certificate(page: Page, username: str) -> None:
            """An opening officer registers its encryption certificate on 我的证书."""
            page.get_by_role("navigation").get_by_role("link", name="我的证书").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("我的证书")
            page.get_by_label("加密证书（PEM 或 DER", exact=False).set_input_files(
                pki.officer_certificates[username])
            page.get_by_role("button", name="登记", exact=True).click()
            flash(page, "已登记加密证书。")
            expect(page.locator("table tbody")).to_contain_text("加密")

        def open_tender_from_list(page: Page) -> None:
            page.get_by_role("navigation").get_by_role("link", name="招标项目").click()
            page.get_by_role("link", name=TITLE, exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)

        # 1. The centre admin opens the agency and supervisor accounts and an opening room,
        # accepts the CAs with their CRLs, and registers its own encryption certificate (the
        # centre's admin is one of the three opening officers).
        with logged_in("admin", "中心管理员") as page:
            page.get_by_role("navigation").get_by_role("link", name="系统管理").click()
            expect(page.get_by_role("heading", name="系统管理")).to_be_visible()
            shot(page, "admin-index")
            page.get_by_role("link", name="用户与机构").click()
            for username, name, role, org in (
                ("agency1", "周经理", "agency", AGENCY_ORG),
                ("supervisor1", "吴科长", "supervisor", AUTHORITY_ORG),
            ):
                page.get_by_label("用户名", exact=True).fill(username)
                page.get_by_label("姓名", exact=True).fill(name)
                page.get_by_label("初始密码", exact=True).fill(PASSWORD)
                page.get_by_label("角色", exact=True).select_option(role)
                page.get_by_label("新机构名称", exact=True).fill(org)
                page.get_by_label("新机构统一社会信用代码", exact=True).fill(
                    make_code(f"browser-{username}")
                )
                if role == "agency":
                    shot(page, "admin-new-agency-form")
                page.get_by_role("button", name="开设账号", exact=True).click()
                flash(page, "账号已开设。")
                expect(page.get_by_role("heading", level=1)).to_have_text(username)
                expect(page.locator("dl.facts")).to_contain_text(org)
                if role == "agency":
                    shot(page, "admin-agency-created")
                page.get_by_role("link", name="用户管理").click()
            users = page.locator("table tbody")
            expect(users).to_contain_text("招标代理")
            expect(users).to_contain_text(AUTHORITY_ORG)
            shot(page, "admin-users")

            page.goto(server.url("/admin"))
            page.get_by_role("link", name="开评标室").click()
            page.get_by_label("名称", exact=True).fill(ROOM)
            page.get_by_label("位置", exact=True).fill("交易中心三楼")
            page.get_by_label("容量（人）", exact=True).fill("40")
            page.get_by_role("button", name="新增", exact=True).click()
            flash(page, "已保存。")
            expect(page.locator("table").first).to_contain_text(ROOM)
            shot(page, "admin-rooms")

            page.goto(server.url("/admin"))
            page.get_by_role("link", name="认可的 CA 与吊销列表").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("认可的 CA 与吊销列表")
            for certificate in pki.ca_certificates:
                page.get_by_label("根或中级 CA 证书（PEM 或 DER）").set_input_files(certificate)
                page.get_by_role("button", name="添加", exact=True).click()
                flash(page, "已添加 CA 证书。")
            for crl in pki.crls:
                page.get_by_label("CRL 文件（PEM 或 DER）").set_input_files(crl)
                page.get_by_role("button", name="上传", exact=True).click()
                flash(page, "已上传证书吊销列表。")
            cas = page.locator("table tbody")
            expect(cas.get_by_role("row")).to_have_count(2)
            expect(cas).to_contain_text("根 CA")
            expect(cas).to_contain_text("中级 CA")
            expect(cas).not_to_contain_text("CRL 缺失或已过期")
            shot(page, "admin-accepted-cas")

            register_encryption_certificate(page, "admin")
            shot(page, "admin-my-certificates")

        with logged_in("supervisor1", "监督人员") as page:
            register_encryption_certificate(page, "supervisor1")

        # 2. The agency registers its encryption certificate, registers the tender, uploads the
        # documents and publishes: the platform deals the opening key to the three officers.
        server.set_clock(T0 + timedelta(minutes=30))
        with logged_in("agency1", "招标代理") as page:
            register_encryption_certificate(page, "agency1")
            page.get_by_role("navigation").get_by_role("link", name="我的工作台").click()
            page.get_by_role("link", name="入场登记：新建招标项目").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("入场登记：新建招标项目")
            page.get_by_label("项目名称", exact=True).fill(TITLE)
            page.get_by_label("招标人", exact=True).fill(TENDERER)
            page.get_by_label("项目类别", exact=True).select_option(label="工程建设")
            page.get_by_label("招标方式", exact=True).select_option(label="公开招标")
            page.get_by_label("地区", exact=True).fill("城西区")
            page.get_by_label("估算价（元）", exact=True).fill("12000000")
            page.get_by_label("最高投标限价（元）", exact=True).fill("11500000")
            page.get_by_label("投标保证金（元", exact=False).fill("200000")
            page.get_by_label("投标截止及开标时间", exact=False).fill(
                DEADLINE.strftime("%Y-%m-%dT%H:%M")
            )
            page.get_by_label("开标室", exact=True).select_option(label=f"{ROOM} 交易中心三楼")
            page.get_by_label("项目概况", exact=True).fill("施工总承包，工期 300 日历天。")
            shot(page, "agency-tender-form")
            page.get_by_role("button", name="保存", exact=True).click()
            flash(page, "项目已登记（草稿）")
            status(page, "入场登记（草稿）")
            expect(page.locator("dl.facts")).to_contain_text("2026-03-27 09:30")
            expect(page.locator("dl.facts")).to_contain_text(ROOM)

            page.get_by_label("上传招标文件（新版本）").set_input_files(
                upload("招标文件.pdf", "application/pdf", "%PDF-1.7 城西污水处理厂招标文件 第一版")
            )
            page.get_by_label("说明", exact=True).fill("第一版")
            page.get_by_role("button", name="上传", exact=True).click()
            flash(page, "招标文件已上传。")
            expect(page.get_by_role("cell", name="招标文件.pdf")).to_be_visible()
            shot(page, "agency-draft-with-documents")

            server.set_clock(T0 + timedelta(hours=1))
            page.get_by_role("button", name="发布招标公告", exact=True).click()
            flash(page, "招标公告已发布。")
            status(page, "投标中")
            expect(page.locator("dl.facts")).to_contain_text("招标文件发售期")
            key_panel = page.locator("#opening-key")
            expect(key_panel).to_contain_text("任一密钥可解")
            expect(key_panel.locator("code.key-id")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
            shot(page, "agency-published")

        # 3. The public portal shows the announcement.
        with visitor() as page:
            page.goto(server.url("/"))
            announcement = f"{TITLE} 招标公告"
            expect(page.get_by_role("link", name=announcement).first).to_be_visible()
            shot(page, "portal-home-announcement")
            page.get_by_role("link", name=announcement).first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text(announcement)
            expect(page.locator(".notice-body")).to_contain_text(TENDERER)
            expect(page.locator(".notice-body")).to_contain_text("2026-03-27 09:30")
            shot(page, "portal-announcement-notice")

        # 4. Four bidder companies sign up. Each logs in with its certificate (ebid-client),
        # registers, downloads the documents, seals its bid with ebid-client and uploads the
        # package on the bid page, which answers with the receipt.
        for bidder in BIDDERS:
            server.set_clock(beijing(3, 2 + bidder.n, 10))  # one company a day
            with visitor() as page:
                page.goto(server.url("/"))
                page.get_by_role("link", name="投标人注册").click()
                expect(page.get_by_role("heading", level=1)).to_have_text("投标人注册")
                for label, value in (
                    ("单位名称", bidder.name),
                    ("统一社会信用代码", bidder.credit_code),
                    ("法定代表人", f"法人{bidder.n}"),
                    ("单位地址", f"城西区建设路 {bidder.n} 号"),
                    ("联系人姓名", f"联系人{bidder.n}"),
                    ("联系电话", f"1380013800{bidder.n}"),
                    ("电子邮箱", f"bid{bidder.n}@example.com"),
                    ("开户银行", "工商银行城西支行"),
                    ("账号", f"62220200{bidder.n:08d}"),
                    ("用户名", bidder.username),
                    ("密码", PASSWORD),
                ):
                    page.get_by_label(label, exact=True).fill(value)
                if bidder.n == 1:
                    shot(page, "bidder-signup-form")
                page.get_by_role("button", name="注册", exact=True).click()
                flash(page, "注册成功，请使用新账号登录。")
                if bidder.n == 1:
                    shot(page, "bidder-signup-done")

            with logged_in_by_certificate(bidder) as page:
                open_tender_from_list(page)
                expect(page.get_by_text("报名后可下载招标文件。")).to_be_visible()
                page.get_by_role("button", name="我要报名", exact=True).click()
                flash(page, "报名成功。")
                with page.expect_download() as download:
                    page.get_by_role("link", name="招标文件.pdf").click()
                assert download.value.suggested_filename == "招标文件.pdf"
                tender_id = page.url.split("/tenders/")[1].split("?")[0].split("#")[0]

                server.set_clock(beijing(3, 2 + bidder.n, 10, 40))
                home = tmp_path / bidder.username
                (home / "投标函.pdf").write_bytes(
                    f"%PDF-1.7 {bidder.name} 投标函 报价 {bidder.price}".encode())
                signing_p12, encryption_p12 = pki.p12[bidder.username]
                sealed = ebid_client(
                    server, home, "seal", "--tender", tender_id, "--lot", "1",
                    "--price", bidder.price, "--duration-days", "300", "--quality", "合格",
                    "--project-manager", bidder.manager, "--p12", str(signing_p12),
                    "--enc-p12", str(encryption_p12), "-o", str(home / "投标.sealed"),
                    str(home / "投标函.pdf"),
                )
                assert "key mode either" in sealed, sealed
                if bidder.n == 1:
                    shot(page, "bidder-bid-form")
                page.get_by_label("密封投标文件（.sealed）").set_input_files(home / "投标.sealed")
                page.get_by_role("button", name="提交密封投标文件", exact=True).click()
                expect(page.get_by_role("heading", level=1)).to_have_text("投标回执")
                flash(page, "平台已接收您的密封投标文件")
                package_sha256 = hashlib.sha256((home / "投标.sealed").read_bytes()).hexdigest()
                expect(page.locator("table")).to_contain_text(package_sha256)
                with page.expect_download() as download:
                    page.get_by_role("link", name="下载回执（.p7m）").click()
                receipt = home / "投标.sealed.receipt.p7m"
                download.value.save_as(receipt)
                if bidder.n == 1:
                    shot(page, "bidder-bid-receipt")
                    checked = ebid_client(server, home, "verify-receipt", str(receipt),
                                          "--package", str(home / "投标.sealed"))
                    assert checked.strip().endswith("OK"), checked

                page.get_by_role("link", name="返回项目").click()
                mine = page.locator("#bidder table")
                expect(mine).to_contain_text("有效")
                expect(mine).to_contain_text(package_sha256[:16])
                expect(mine).to_contain_text("密封，开标解密后公布")
                if bidder.n == 1:
                    shot(page, "bidder-bid-submitted")

        # 5. Before the deadline everything about the bidders is sealed, even from the supervisor.
        server.set_clock(beijing(3, 20, 15))
        with logged_in("supervisor1", "监督人员") as page:
            expect(page.get_by_role("heading", name="全部招标项目（监督）")).to_be_visible()
            page.get_by_role("link", name=TITLE, exact=True).click()
            status(page, "投标中")
            expect(page.locator("#insider .warn")).to_contain_text("开标前，报名、下载")
            for bidder in BIDDERS:
                expect(page.get_by_text(bidder.name)).to_have_count(0)
            expect(page.locator("#insider")).to_contain_text("bidding:tender:publish")
            shot(page, "supervisor-sealed-before-deadline")

        # 6. The deadline passes; the scheduler starts the opening after the intake grace. The
        # agency keeps the opening page open: it follows the decryption window by itself.
        server.set_clock(DEADLINE + timedelta(minutes=1))
        with logged_in("agency1", "招标代理") as live:
            open_tender_from_list(live)
            live.get_by_role("link", name="进入开标大厅", exact=False).click()
            reload_until(live, "开标中·解密")
            opening_url = live.url
            bids = live.locator("#bids")
            expect(bids.locator("tr")).to_have_count(len(BIDDERS))
            for bidder in BIDDERS:
                expect(bids.locator("tr", has_text=bidder.name)).to_contain_text("待解密")
            expect(live.locator("#countdown")).to_have_text(re.compile(r"^(30:00|29:[0-5]\d)$"))
            expect(live.locator("#shares")).to_have_text("0")
            shot(live, "opening-window-starts")

            with logged_in_by_certificate(BIDDERS[0]) as page:
                page.goto(opening_url)
                expect(page.locator("#bids tr", has_text=BIDDERS[0].name)).to_contain_text("本单位")
                expect(page.get_by_text("请在解密截止前在本机运行")).to_be_visible()
                hint = page.locator("code", has_text="ebid-client decrypt --tender")
                expect(hint).to_contain_text("--enc-p12")
                for bidder in BIDDERS:
                    expect(page.locator("#bids")).to_contain_text(bidder.name)
                expect(page.locator("#bids .price").first).to_have_text("")
                shot(page, "bidder-opening-window")

            # Three bidders decrypt on their own machines; the fourth never does.
            for bidder in OPENED:
                home = tmp_path / bidder.username
                client_login(server, home, pki.p12[bidder.username][0])  # last login is weeks old
                out = ebid_client(server, home, "decrypt", "--tender", tender_id, "--enc-p12",
                                  str(pki.p12[bidder.username][1]), "--package",
                                  str(home / "投标.sealed"))
                assert ": decrypted" in out, out
            # The page has not been reloaded: its polling shows the opened bids, but no price
            # before the window is over (a bidder still sealed must not read its rivals').
            for bidder in OPENED:
                row = bids.locator("tr", has_text=bidder.name)
                expect(row.locator(".state")).to_have_text("已解密", timeout=15_000)
                expect(row.locator(".price")).to_have_text("")
            expect(live.locator("#prices-withheld")).to_contain_text("解密窗口结束后统一公布")
            expect(bids.locator("tr", has_text=BIDDERS[3].name)).to_contain_text("待解密")
            shot(live, "opening-live-decrypted")

            # A bidder objects at the opening; the agency answers on the spot (art. 44).
            with logged_in_by_certificate(BIDDERS[1]) as page:
                page.goto(opening_url)
                page.get_by_label("对开标提出异议（当场答复）").fill(
                    f"{BIDDERS[3].name}的投标文件尚未解密，请说明如何处理。")
                page.get_by_role("button", name="提出异议", exact=True).click()
            live.reload()
            objection = live.locator(".panel", has_text="尚未解密，请说明如何处理")
            expect(objection).to_contain_text(BIDDERS[1].name)
            objection.get_by_label("当场答复").fill(
                "解密截止前未提交密钥的，按投标人原因解密失败处理，视为撤销投标文件。")
            objection.get_by_role("button", name="答复异议", exact=True).click()
            # The answer leads back to the opening page, at its objections.
            expect(live).to_have_url(re.compile(r"/opening\?done=answered#objections$"))
            expect(live.get_by_role("status")).to_have_text("答复已发布。")
            objection = live.locator(".panel", has_text="尚未解密，请说明如何处理")
            expect(objection).to_contain_text("视为撤销投标文件")
            shot(live, "opening-objection-answered")

            # The window ends: the scheduler fails the missing bid and publishes the record,
            # and the page (still not reloaded by the test) turns into it.
            server.set_clock(DEADLINE + timedelta(minutes=32))
            expect(live.locator("#opening-status")).to_have_text("已开标·评标中", timeout=30_000)
            record = live.locator("table", has=live.get_by_role("columnheader", name="有效性"))
            expect(record.locator("tbody tr")).to_have_count(len(BIDDERS))
            for bidder in OPENED:
                row = record.locator("tr", has_text=bidder.name)
                expect(row).to_contain_text(bidder.manager)
                expect(row).to_contain_text("有效")
            for bidder in OPENED:  # read out on the live table too, now the window is over
                expect(bids.locator("tr", has_text=bidder.name).locator(".price")).to_have_text(
                    f"¥{float(bidder.price):,.2f}", timeout=15_000)
            failed = record.locator("tr", has_text=BIDDERS[3].name)
            expect(failed).to_contain_text("解密失败（投标人原因，视为撤销）")
            expect(failed).to_contain_text("未解密，无效")
            # Its reason in the page's language only (stored as "中文 / English").
            reason = live.locator("#bids tr", has_text=BIDDERS[3].name).locator(".detail")
            expect(reason).not_to_be_empty()
            expect(reason).not_to_contain_text(" / ")
            signed = live.get_by_role("link", name="下载平台签名的开标记录", exact=False)
            expect(signed).to_be_visible()
            shot(live, "opening-record")
            with live.expect_download() as download:
                signed.click()
            # The platform's CMS signature holds, and the signed rows say what the page says.
            content, _ = verify_attached(Path(download.value.path()).read_bytes())
            rows = {row["bidder"]: row for row in json.loads(content)["rows"]}
            assert rows[BIDDERS[3].name]["decryption"] == "failed_bidder"
            assert not rows[BIDDERS[3].name]["valid"]
            for bidder in OPENED:
                assert rows[bidder.name]["decryption"] == "decrypted"
                assert Decimal(rows[bidder.name]["price"]) == Decimal(bidder.price)

        with visitor() as page:
            page.goto(server.url("/tenders"))
            page.get_by_role("link", name=TITLE, exact=True).click()
            status(page, "已开标·评标中")
            opening = page.locator("table", has=page.get_by_role("columnheader", name="投标报价"))
            for bidder in BIDDERS:
                expect(opening).to_contain_text(bidder.name)
            expect(page.get_by_text("开标记录 SHA-256：")).to_be_visible()
            shot(page, "portal-opening-record")

        # 7. The supervisor reads the registrations and the audit trail. (It also sees a collusion
        # mark on the tender: the four companies sealed their bids on this one machine, whose
        # fingerprint every manifest carries, and the detectors notice.)
        server.set_clock(DEADLINE + timedelta(hours=1))
        with logged_in("supervisor1", "监督人员") as page:
            page.get_by_role("link", name=TITLE, exact=True).click()
            status(page, "已开标·评标中")
            insider = page.locator("#insider")
            expect(insider.get_by_role("heading", name="报名及保证金")).to_be_visible()
            for bidder in BIDDERS:
                expect(insider).to_contain_text(bidder.credit_code)
            expect(insider.get_by_role("heading", name="操作日志（审计追踪）")).to_be_visible()
            for action in (
                "bidding:tender:registered",
                "bidding:document:uploaded",
                "bidding:registration:created",
                "bidding:bid:submitted",
                "bidding:tender:begin_opening",
                "bidding:bid:decrypted",
                "bidding:bid:failed_bidder",
                "bidding:objection:answered",
                "bidding:tender:open",
            ):
                expect(insider.get_by_text(action, exact=True).first).to_be_visible()
            shot(page, "supervisor-opened-audit-trail")

        # 8. The agency records the deposits and enters the committee's ranking the same day,
        # and publishes the candidates on the next working day.
        server.set_clock(beijing(3, 27, 14))
        with logged_in("agency1", "招标代理") as page:
            page.get_by_role("link", name=TITLE, exact=True).click()
            status(page, "已开标·评标中")
            deposits = page.locator(
                "#agency table", has=page.get_by_role("columnheader", name="统一社会信用代码")
            )
            for bidder in BIDDERS:
                row = deposits.get_by_role("row").filter(has_text=bidder.name)
                row.get_by_role("button", name="已到账", exact=True).click()
                flash(page, "保证金状态已记录。")
                expect(row.get_by_role("cell", name="已到账", exact=True)).to_be_visible()
            for rank, (bidder, score) in enumerate(
                ((BIDDERS[0], "95.5"), (BIDDERS[2], "91"), (BIDDERS[1], "88")), start=1
            ):
                page.get_by_label(f"名次 {bidder.name}").fill(str(rank))
                page.get_by_label(f"评分 {bidder.name}").fill(score)
            shot(page, "agency-deposits-and-ranking-form")
            page.get_by_role("button", name="保存排名", exact=True).click()
            flash(page, "评标排名已录入。")
            ranking = page.locator(
                "#insider table", has=page.get_by_role("columnheader", name="名次")
            )
            expect(ranking.locator("tbody tr").first).to_contain_text(BIDDERS[0].name)

        server.set_clock(beijing(3, 30, 10))
        with logged_in("agency1", "招标代理") as page:
            page.get_by_role("link", name=TITLE, exact=True).click()
            page.get_by_role("button", name="公示中标候选人", exact=True).click()
            flash(page, "中标候选人已公示。")
            status(page, "中标候选人公示")
            publicity = page.locator("dl.facts dt:text-is('公示期') + dd")
            ends_text = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", publicity.inner_text())[-1]
            shot(page, "agency-candidates-published")

            # Too early to award: no button, and the page says until when.
            expect(page.get_by_role("button", name="发出中标通知书", exact=True)).to_have_count(0)
            expect(page.locator("#award-wait")).to_contain_text(f"公示期至 {ends_text}")
            shot(page, "agency-award-waits-for-publicity")

        with visitor() as page:
            page.goto(server.url("/"))
            page.get_by_role("link", name=f"{TITLE} 中标候选人公示").first.click()
            body = page.locator(".notice-body")
            expect(body).to_contain_text(f"第1名：{BIDDERS[0].name}")
            expect(body).to_contain_text(f"第2名：{BIDDERS[2].name}")
            shot(page, "portal-candidates-notice")

        # 9. The publicity ends; the agency issues the award notice.
        # A period ends at "YYYY-MM-DD 24:00", the start of the next day.
        ends_day, ends_time = ends_text.split()
        publicity_ends = datetime.strptime(
            f"{ends_day} {'00:00' if ends_time == '24:00' else ends_time}", "%Y-%m-%d %H:%M"
        ).replace(tzinfo=BEIJING) + timedelta(days=1 if ends_time == "24:00" else 0)
        server.set_clock(publicity_ends + timedelta(hours=9, minutes=30))
        with logged_in("agency1", "招标代理") as page:
            page.get_by_role("link", name=TITLE, exact=True).click()
            page.get_by_role("button", name="发出中标通知书", exact=True).click()
            flash(page, "中标通知书已发出。")
            status(page, "已定标")
            awards = page.locator("table", has=page.get_by_role("columnheader", name="中标人"))
            expect(awards).to_contain_text(BIDDERS[0].name)
            expect(awards).to_contain_text("¥10,980,000.00")
            shot(page, "agency-awarded")

        # 10. The bidders see the result: the winner gets the award notice in its workspace.
        server.set_clock(publicity_ends + timedelta(hours=10, minutes=30))
        with logged_in(BIDDERS[0].username, "投标人") as page:
            notes = page.locator("section", has=page.get_by_role("heading", name="消息通知"))
            expect(notes).to_contain_text(f"【中标通知书】{TITLE}")
            expect(notes).to_contain_text("贵单位为")
            regs = page.locator("section", has=page.get_by_role("heading", name="我报名的项目"))
            expect(regs).to_contain_text("已定标")
            shot(page, "bidder-winner-workspace")
        with logged_in(BIDDERS[1].username, "投标人") as page:
            expect(page.get_by_text(f"【中标通知书】{TITLE}")).to_have_count(0)
            page.get_by_role("link", name=TITLE, exact=True).click()
            status(page, "已定标")
            expect(page.get_by_role("heading", name="中标结果")).to_be_visible()
            awards = page.locator("table", has=page.get_by_role("columnheader", name="中标人"))
            expect(awards).to_contain_text(BIDDERS[0].name)
            shot(page, "bidder-other-sees-result")

            # The opening page stays, in English too: outcomes, objection, signed record.
            page.get_by_role("link", name="进入开标大厅", exact=False).click()
            page.get_by_role("link", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("#opening-status")).to_have_text("Awarded")
            record = page.locator("table", has=page.get_by_role("columnheader", name="Validity"))
            expect(record.locator("tr", has_text=BIDDERS[3].name)).to_contain_text(
                "Failed: the bidder's fault (treated as revoked)")
            expect(page.get_by_role("heading", name="Objections at the opening")).to_be_visible()
            shot(page, "bidder-opening-in-english")

        # 11. The public portal carries the award notice; one page in English.
        with visitor() as page:
            page.goto(server.url("/"))
            award_notice = f"{TITLE} 中标结果公告"
            awards_panel = page.locator(
                "section", has=page.get_by_role("heading", name="中标结果公告")
            )
            expect(awards_panel.get_by_role("link", name=award_notice)).to_be_visible()
            shot(page, "portal-home-with-award")
            awards_panel.get_by_role("link", name=award_notice).click()
            expect(page.get_by_role("heading", level=1)).to_have_text(award_notice)
            expect(page.locator(".notice-body")).to_contain_text(
                f"中标人 {BIDDERS[0].name}，中标价 ¥10,980,000.00"
            )
            shot(page, "portal-award-notice")

            page.get_by_role("link", name="查看项目").click()
            page.get_by_role("link", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            status(page, "Awarded")
            expect(page.get_by_role("heading", name="Award", exact=True)).to_be_visible()
            expect(page.get_by_role("columnheader", name="Winner")).to_be_visible()
            expect(page.get_by_role("link", name="Log in")).to_be_visible()
            shot(page, "tender-in-english")

        browser.close()
