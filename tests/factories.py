"""Test data factories: accounts of every role, logged-in HTTP clients, tenders in any state.

Import it from any test as ``import factories`` (tests/ is on sys.path because the test
directories have no __init__.py). Everything goes through the real services
(kernel.accounts.services, bidding.services), so the rows, the audit trail and the
notifications are what the platform itself writes; statutory periods are met by moving the
FixedClock, never by writing rows directly. The conftest fixtures do the rest::

    agency = factories.make_agency(run, ctx)
    a, b, c = (factories.make_bidder(run, ctx, seed) for seed in ("a", "b", "c"))
    made = factories.make_tender(run, ctx, clock, agency, state="opened", bidders=[a, b, c])
    browser = factories.login(client, a)            # session cookie + CSRF, like a browser
    api = factories.login(client, a, api=True)      # bearer token only, like an API client
    page = browser.get(f"/tenders/{made.id}")
    factories.submit(browser, page.text, f"/tenders/{made.id}/questions", text="工期？")

``submit`` sends the form the page actually offers (its CSRF token and hidden fields
included), so a test fails like a user would when the page has no such button.
``session_client`` skips the login page when a test needs many viewers. Helpers that move the
clock say so in their first docstring line.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import Headers, UploadFile
from starlette.testclient import TestClient

from bidding import services as bidding
from bidding.models import Method, TenderStatus
from kernel.accounts import creditcode, passwords
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.calendar import local_date
from kernel.clock import FixedClock
from kernel.http import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE

Run = Callable[..., Any]

BEIJING = ZoneInfo("Asia/Shanghai")
PASSWORD = "Ebid-Factory-2026"
# Seeds the first staff accounts, as the command line would; never a real user.
SETUP = Actor(user_id=None, username="test-setup", role=Role.ADMIN)
# Prices of the default bids: below the default ceiling and all of the same number of digits.
DEFAULT_PRICES = ("10980000.00", "11020000.00", "11160000.00", "11240000.00", "11310000.00")


# -- accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A user and their organisation, as the tests need to name, log in and act as them."""

    username: str
    role: Role
    user_id: int
    organization_id: int | None
    org_name: str
    credit_code: str
    display_name: str = ""
    password: str = PASSWORD

    @property
    def actor(self) -> Actor:
        """The Actor the services expect, for acting without HTTP."""
        return Actor(
            user_id=self.user_id,
            username=self.username,
            role=self.role,
            organization_id=self.organization_id,
            display_name=self.display_name,
        )


def cheap_password_hashing(monkeypatch: Any) -> None:
    """Hash passwords with the cheapest argon2id parameters for the rest of the test.

    The production profile costs about half a second per hash on a CI machine; a test that
    creates and logs in a dozen users spends its time there. Hashes made meanwhile verify
    only while the patch holds.
    """
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )


def _staff(run: Run, ctx: Any, role: Role, username: str, org_name: str, seed: str) -> Account:
    code = creditcode.make_code(seed)
    user = run(
        accounts.create_user_with_organization, ctx, actor=SETUP, username=username,
        password=PASSWORD, role=role.value, organization_name=org_name, credit_code=code,
        display_name=f"{org_name}·{username}",
    )
    return Account(
        username=user.username, role=role, user_id=user.id,
        organization_id=user.organization_id,  # type: ignore[attr-defined]
        org_name=org_name, credit_code=code, display_name=user.display_name,
    )


def make_admin(run: Run, ctx: Any, username: str = "centre-admin") -> Account:
    """A centre admin in the trading centre's organisation."""
    return _staff(run, ctx, Role.ADMIN, username, "市公共资源交易中心", f"centre-{username}")


def make_agency(
    run: Run, ctx: Any, username: str = "agency", org_name: str = "华信招标代理有限公司"
) -> Account:
    """A tendering agency (招标代理) user in a new agency organisation."""
    return _staff(run, ctx, Role.AGENCY, username, org_name, f"agency-{username}")


def make_supervisor(
    run: Run, ctx: Any, username: str = "supervisor", org_name: str = "市住房和城乡建设局"
) -> Account:
    """A supervisor (监督人员) in a new supervising authority."""
    return _staff(run, ctx, Role.SUPERVISOR, username, org_name, f"authority-{username}")


def bidder_fields(seed: str, **overrides: str) -> dict[str, str]:
    """The sign-up form of a bidder company (also what POST /signup takes), password included.

    Different seeds give different usernames, names and valid credit codes.
    """
    number = sum(ord(ch) for ch in seed) % 10**8
    fields = {
        "name": f"{seed}建设工程有限公司",
        "credit_code": creditcode.make_code(f"bidder-{seed}"),
        "legal_rep": f"法人{seed}",
        "contact_name": f"联系人{seed}",
        "contact_phone": f"138{number:08d}",
        "email": f"{seed}@bidder.example.cn",
        "address": f"贵州省贵阳市观山湖区长岭北路 {number % 999 + 1} 号",
        "bank_name": "中国建设银行贵阳观山湖支行",
        "bank_account": f"5205011036{number:010d}",
        "username": f"bidder-{seed}".lower(),
        "password": PASSWORD,
    }
    fields.update(overrides)
    return fields


def make_bidder(run: Run, ctx: Any, seed: str, **overrides: str) -> Account:
    """A bidder company signed up through ``signup_bidder``, with its first user."""
    fields = bidder_fields(seed, **overrides)
    user = run(accounts.signup_bidder, ctx, **fields)
    return Account(
        username=user.username, role=Role.BIDDER, user_id=user.id,
        organization_id=user.organization_id,  # type: ignore[attr-defined]
        org_name=fields["name"], credit_code=fields["credit_code"],
        display_name=user.display_name, password=fields["password"],
    )


# -- HTTP clients ---------------------------------------------------------------------------


def new_client(
    client: TestClient, *, follow_redirects: bool = True, raise_server_exceptions: bool = True
) -> TestClient:
    """Another cookie jar on the same running app: one per person in a test.

    It shares ``client``'s event loop (its portal), so it talks to the same database
    connections; never enter it as a context manager (that would start a second lifespan).
    ``raise_server_exceptions=False`` turns a crash into a 500 answer instead of raising.
    """
    other = TestClient(client.app, base_url=str(client.base_url),
                       follow_redirects=follow_redirects,
                       raise_server_exceptions=raise_server_exceptions)
    other.portal = client.portal
    return other


def csrf_of(client: TestClient) -> str:
    """The CSRF token of ``client``'s cookie jar (the value forms must echo)."""
    return client.cookies.get(CSRF_COOKIE) or ""


def with_csrf(client: TestClient, **fields: Any) -> dict[str, Any]:
    """Form fields plus the CSRF token, as a browser submits a page's form."""
    return {CSRF_FIELD: csrf_of(client), **fields}


def csrf_headers(client: TestClient) -> dict[str, str]:
    """The header a script sends instead of the form field (JSON calls with a session)."""
    return {CSRF_HEADER: csrf_of(client)}


def login(
    client: TestClient,
    account: Account,
    *,
    api: bool = False,
    follow_redirects: bool = True,
) -> TestClient:
    """A new client logged in as ``account`` over HTTP.

    ``api=False``: like a browser, GET /login for the CSRF cookie, then POST the form; the
    client keeps the session and CSRF cookies. ``api=True``: POST /api/v1/session and keep
    only ``Authorization: Bearer <token>`` (no cookies), like an API client.
    """
    browser = new_client(client, follow_redirects=follow_redirects)
    if api:
        answer = browser.post(
            "/api/v1/session", json={"username": account.username, "password": account.password}
        )
        assert answer.status_code == 200, answer.text
        browser.cookies.clear()
        browser.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return browser
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    answer = browser.post(
        "/login",
        data=with_csrf(browser, username=account.username, password=account.password),
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert browser.cookies.get(SESSION_COOKIE), "login set no session cookie"
    return browser


def session_client(
    client: TestClient,
    run: Run,
    ctx: Any,
    account: Account | None,
    *,
    api: bool = False,
    csrf: str = "csrf-token-for-tests",
    follow_redirects: bool = True,
    raise_server_exceptions: bool = True,
) -> TestClient:
    """A client authenticated without the login page: the session comes from the service.

    Cheaper than :func:`login` when a test needs many viewers; ``account=None`` gives an
    anonymous visitor. Browser clients get the CSRF cookie ``csrf`` (so pages and forms carry
    that fixed token); API clients get only the bearer header.
    """
    browser = new_client(client, follow_redirects=follow_redirects,
                         raise_server_exceptions=raise_server_exceptions)
    token = ""
    if account is not None:
        token = run(accounts.login, ctx, username=account.username,
                    password=account.password, remote_addr="10.1.2.3")
    if api:
        if token:
            browser.headers["Authorization"] = f"Bearer {token}"
        return browser
    browser.cookies.set(CSRF_COOKIE, csrf)
    if token:
        browser.cookies.set(SESSION_COOKIE, token)
    return browser


# -- HTML forms, as a browser without JavaScript sees them ----------------------------------


@dataclass
class Form:
    """One <form> of a page: where it posts and the values a browser would send untouched."""

    action: str
    method: str
    enctype: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    # Names of the inputs the user fills in (text, number, file, unchecked boxes...), in page
    # order, with the value each would send (checkbox values; "" for empty text inputs).
    inputs: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").upper(),
                              a.get("enctype", "application/x-www-form-urlencoded"))
            self.forms.append(self._form)
        if self._form is None or "name" not in a:
            if tag == "option" and self._select is not None and self._select_value is None:
                self._select_value = a.get("value", "")
            elif tag == "option" and self._select is not None and "selected" in a:
                self._select_value = a.get("value", "")
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.append((name, a.get("value", "on")))
                else:
                    self._form.inputs.append((name, a.get("value", "on")))
            elif kind in ("submit", "button", "image", "reset"):
                return
            elif kind == "hidden" or a.get("value"):
                self._form.fields.append((name, a.get("value", "")))
            else:
                self._form.inputs.append((name, ""))
        elif tag == "select":
            self._select, self._select_value = name, None
        elif tag == "textarea":
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select is not None:
            if self._select_value is not None:
                self._form.fields.append((self._select, self._select_value))
            self._select = None
        elif tag == "textarea" and self._form is not None and self._textarea is not None:
            text = "".join(self._text)
            if text:
                self._form.fields.append((self._textarea, text))
            else:
                self._form.inputs.append((self._textarea, ""))
            self._textarea = None


def forms_of(html: str) -> list[Form]:
    """Every form on a page."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_on(html: str, action: str, **hidden: str) -> Form:
    """The form on the page that posts to ``action`` (and whose fields have ``hidden``
    values, to tell apart several forms with one action); AssertionError if the page does not
    offer it, which is what a user without the button would see."""
    found = [f for f in forms_of(html) if f.action == action
             and all(f.value(k) == v for k, v in hidden.items())]
    assert found, (
        f"the page offers no form to {action} {hidden or ''}; its forms post to "
        f"{sorted({f.action for f in forms_of(html)})}"
    )
    return found[0]


def submit(browser: TestClient, html: str, action: str, *, match: dict[str, str] | None = None,
           files: dict[str, Any] | None = None, **values: Any) -> Any:
    """Fill in the form to ``action`` of ``html`` and send it, like a browser: the form's own
    fields (CSRF token, hidden values, selected options) plus ``values`` and ``files``."""
    form = form_on(html, action, **(match or {}))
    data: dict[str, Any] = {}
    for key, value in form.fields:
        data.setdefault(key, value)
    for key, value in values.items():
        data[key] = value
    return browser.request(form.method, form.action, data=data, files=files)


# -- files ----------------------------------------------------------------------------------


def upload_file(content: bytes, filename: str = "file.pdf",
                content_type: str = "application/pdf") -> UploadFile:
    """An UploadFile as the form parser would hand it to a service."""
    return UploadFile(
        file=io.BytesIO(content), size=len(content), filename=filename,
        headers=Headers({"content-type": content_type}),
    )


def document_bytes(tender_title: str, version: int = 1) -> bytes:
    return f"%PDF-1.4\n招标文件 {tender_title} 第{version}版\n".encode()


def bid_bytes(account: Account, tender_id: int, lot: int, price: str) -> bytes:
    """Distinct content per bidder, tender, lot and price (blobs are content-addressed)."""
    return f"PK\x03\x04 bid {account.username} tender {tender_id} lot {lot} {price}".encode()


# -- tenders --------------------------------------------------------------------------------


STATE_ORDER = (
    TenderStatus.DRAFT, TenderStatus.PUBLISHED, TenderStatus.SUSPENDED, TenderStatus.OPENED,
    TenderStatus.FAILED, TenderStatus.PUBLICITY, TenderStatus.AWARDED, TenderStatus.CONTRACTED,
    TenderStatus.CLOSED,
)


@dataclass
class MadeTender:
    """What :func:`make_tender` made: ids to put in URLs, and who did what."""

    id: int
    code: str
    title: str
    status: TenderStatus
    deadline_at: datetime
    agency: Account
    document_ids: list[int] = field(default_factory=list)
    bidders: list[Account] = field(default_factory=list)
    # By username.
    registration_ids: dict[str, int] = field(default_factory=dict)
    bid_ids: dict[str, int] = field(default_factory=dict)
    prices: dict[str, str] = field(default_factory=dict)
    objection_id: int | None = None
    objector: Account | None = None


def tender_in(deadline_at: datetime, **changes: Any) -> bidding.TenderIn:
    """A valid TenderIn (one lot unless ``lots`` is given); ``changes`` override fields."""
    values: dict[str, Any] = {
        "title": "城西污水处理厂提标改造工程施工",
        "category": "engineering",
        "method": Method.OPEN.value,
        "tenderer_name": "城西水务投资有限公司",
        "estimate": "12000000.00",
        "price_ceiling": "11500000.00",
        "deposit": "200000.00",
        "deadline_at": deadline_at,
        "description": "施工总承包，工期 300 日历天。",
        "region": "城西区",
    }
    values.update(changes)
    return bidding.TenderIn(**values)


def legal_deadline(ctx: Any, published_at: datetime, *, spare_days: int = 5,
                   at: time = time(9, 30)) -> datetime:
    """A deadline at ``at`` Beijing time, ``spare_days`` after the earliest the 20-day rule
    allows for documents issued at ``published_at``, moved onto a working day."""
    earliest = ctx.calendar.period_end(local_date(published_at, ctx.tz), 20)
    day = ctx.calendar.next_working_day(earliest + timedelta(days=spare_days))
    return datetime.combine(day, at, tzinfo=ZoneInfo(ctx.tz))


def publish(run: Run, ctx: Any, agency: Account, tender_id: int) -> Any:
    """Publish the announcement at the clock's current time (the service sets the sale),
    registering the opening officers' encryption certificates first if they lack them."""
    officer_certificates(run, ctx, agency)
    return run(bidding.publish, ctx, actor=agency.actor, tender_id=tender_id)


def register(run: Run, ctx: Any, bidder: Account, tender_id: int, *,
             download: bool = True) -> int:
    """Register ``bidder`` (and download every document version); the registration id."""
    registration = run(bidding.register, ctx, actor=bidder.actor, tender_id=tender_id)
    if download:
        download_documents(run, ctx, bidder, tender_id)
    return int(registration.id)


def download_documents(run: Run, ctx: Any, bidder: Account, tender_id: int) -> list[int]:
    """Download every version of the tender documents as ``bidder`` (recorded, sealed)."""
    from bidding.models import TenderDocument

    async def document_ids() -> list[int]:
        return list(await TenderDocument.filter(tender_id=tender_id)
                    .order_by("version").values_list("id", flat=True))

    ids = run(document_ids)
    for document_id in ids:
        run(bidding.download_document, ctx, actor=bidder.actor, tender_id=tender_id,
            document_id=document_id)
    return ids


def submit_bid(run: Run, ctx: Any, bidder: Account, tender_id: int, price: str, *,
               lot: int = 1, project_manager: str = "", **seal_options: Any) -> int:
    """Seal and submit (or replace) ``bidder``'s bid on ``lot``; the new bid's id."""
    bid_id, _ = submit_sealed(run, ctx, bidder, tender_id, price, lot=lot,
                              project_manager=project_manager, **seal_options)
    return bid_id


def _index(state: TenderStatus) -> int:
    return STATE_ORDER.index(state)


def make_tender(
    run: Run,
    ctx: Any,
    clock: FixedClock,
    agency: Account,
    state: TenderStatus | str = TenderStatus.PUBLISHED,
    *,
    bidders: Sequence[Account] | None = None,
    prices: Sequence[str] | None = None,
    deadline_at: datetime | None = None,
    method: str = Method.OPEN.value,
    seed: str = "",
    **changes: Any,
) -> MadeTender:
    """Moves the clock. Drive a new tender through the real services into ``state``.

    - draft: registered (入场登记) with one document version, clock untouched;
    - published: announcement out (sale period per the rules), clock untouched;
    - suspended: an objection to the documents by ``bidders[0]`` (or a new bidder);
    - opened / failed: ``bidders`` (default three new ones; two for failed) register, download
      and bid at ``prices`` (default DEFAULT_PRICES), then the clock is set to the deadline
      and the scheduler's ``advance_due`` opens the tender;
    - publicity: the ranking by price is entered and the candidates published;
    - awarded: the clock moves to the end of the publicity and the award is issued;
    - contracted: the contract is registered (signed now, at the winning price);
    - closed: the written report is filed.

    Bidders given for draft, published or suspended are registered (and bid if ``prices`` is
    given) while the tender is open. ``seed`` tells apart bidders auto-created by several
    calls in one test; ``changes`` override TenderIn fields (title, lots...).
    """
    target = TenderStatus(state)
    now = clock.now()
    deadline = deadline_at or legal_deadline(ctx, now)
    data = tender_in(deadline, method=method, **changes)
    tender = run(bidding.create_tender, ctx, actor=agency.actor, data=data)
    made = MadeTender(id=tender.id, code=tender.code, title=tender.title,
                      status=TenderStatus.DRAFT, deadline_at=deadline, agency=agency)
    doc = run(bidding.upload_document, ctx, actor=agency.actor, tender_id=tender.id,
              upload=upload_file(document_bytes(tender.title), "招标文件.pdf"), note="第一版")
    made.document_ids.append(int(doc.id))
    if target == TenderStatus.DRAFT:
        return made

    auto = seed or f"t{tender.id}"
    wanted = 2 if target == TenderStatus.FAILED else 3
    if bidders is None:
        if _index(target) >= _index(TenderStatus.OPENED):
            bidders = [make_bidder(run, ctx, f"{auto}-{n}") for n in range(1, wanted + 1)]
        else:
            bidders = []
    made.bidders = list(bidders)
    if method == Method.INVITED.value:
        for bidder in made.bidders:
            run(bidding.invite, ctx, actor=agency.actor, tender_id=tender.id,
                credit_code=bidder.credit_code)

    publish(run, ctx, agency, tender.id)
    made.status = TenderStatus.PUBLISHED

    if target == TenderStatus.SUSPENDED:
        objector = made.bidders[0] if made.bidders else make_bidder(run, ctx, f"{auto}-obj")
        objection = run(
            bidding.raise_objection, ctx, actor=objector.actor, tender_id=tender.id,
            stage="documents", text="招标文件第三章资格条件中的业绩要求排斥潜在投标人，请予澄清。",
        )
        made.objection_id, made.objector = int(objection.id), objector
        made.status = TenderStatus.SUSPENDED

    bid_prices = list(prices) if prices is not None else (
        list(DEFAULT_PRICES) if _index(target) >= _index(TenderStatus.OPENED) else []
    )
    for n, bidder in enumerate(made.bidders):
        made.registration_ids[bidder.username] = register(run, ctx, bidder, tender.id)
        if n < len(bid_prices):
            made.bid_ids[bidder.username] = submit_bid(run, ctx, bidder, tender.id,
                                                       bid_prices[n])
            made.prices[bidder.username] = bid_prices[n]
    if _index(target) < _index(TenderStatus.OPENED):
        return made

    # The opening starts once the intake grace after the deadline is over (docs/opening.md).
    clock.set(deadline + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    if _status(run, tender.id) == TenderStatus.OPENING:
        decrypt_bids(run, ctx, made)  # sealed bids: each bidder sends its key at once
    made.status = _status(run, tender.id)
    expected = TenderStatus.FAILED if target == TenderStatus.FAILED else TenderStatus.OPENED
    assert made.status == expected, (
        f"tender {tender.id} is {made.status} after the opening, wanted {expected}: "
        f"{len(made.bid_ids)} bids"
    )
    if target in (TenderStatus.OPENED, TenderStatus.FAILED):
        return made

    ranked = sorted(made.bid_ids.items(), key=lambda item: Decimal(made.prices[item[0]]))
    run(bidding.enter_ranking, ctx, actor=agency.actor, tender_id=tender.id, lot_number=1,
        ranking=[(bid_id, Decimal(90 - n)) for n, (_, bid_id) in enumerate(ranked)])
    published = run(bidding.publish_candidates, ctx, actor=agency.actor, tender_id=tender.id)
    made.status = TenderStatus.PUBLICITY
    if target == TenderStatus.PUBLICITY:
        return made

    clock.set(published.publicity_ends_at)
    run(bidding.award, ctx, actor=agency.actor, tender_id=tender.id)
    made.status = TenderStatus.AWARDED
    if target == TenderStatus.AWARDED:
        return made

    winner = ranked[0][0]
    clock.advance(days=1)
    run(bidding.register_contract, ctx, actor=agency.actor, tender_id=tender.id, lot_number=1,
        signed_at=clock.now(), amount=made.prices[winner])
    made.status = TenderStatus.CONTRACTED
    if target == TenderStatus.CONTRACTED:
        return made

    run(bidding.file_report, ctx, actor=agency.actor, tender_id=tender.id,
        body="本项目依法公开招标，经评标委员会评审，推荐中标候选人并公示无异议后定标。")
    made.status = _status(run, tender.id)
    assert made.status == TenderStatus.CLOSED, made.status
    return made


def _status(run: Run, tender_id: int) -> TenderStatus:
    from bidding.models import Tender

    async def status() -> TenderStatus:
        return (await Tender.get(id=tender_id)).status

    return TenderStatus(run(status))


def names_and_codes(bidders: Iterable[Account]) -> list[str]:
    """The strings that identify these bidders on a page: company names and credit codes."""
    out: list[str] = []
    for bidder in bidders:
        out += [bidder.org_name, bidder.credit_code]
    return out


# -- sealed bids (issue 3): dev PKI, officers' keys, sealing and submitting -----------------

# The session's development CAs and the certificates they issue are dated from here, valid for
# ten years with CRLs good as long, so every test clock (T0 onwards) and the real time (for
# the openssl binary) fall inside.
PKI_NOW = datetime(2025, 1, 1, tzinfo=ZoneInfo("UTC"))
PKI_DAYS = 3650
_session_pki: list[Any] = []
_credentials: dict[str, BidderCredentials] = {}


@dataclass(frozen=True)
class BidderCredentials:
    """A bidder's signing certificate and key, and its paired encryption certificate and key."""

    signer: Any  # signing.sealed.Signer
    encryption_certificate: Any  # x509.Certificate
    encryption_key: Any  # ec.EllipticCurvePrivateKey
    pair: Any  # signing.pki.IssuedPair


def dev_pki() -> Any:
    """The session-wide development PKI (EC P-256 root and issuing CA), made on first use."""
    if not _session_pki:
        import atexit
        import shutil
        import tempfile
        from pathlib import Path

        from signing.pki import DevPKI

        directory = tempfile.mkdtemp(prefix="ebid-test-pki-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)  # its keys lie unencrypted
        pki = DevPKI.create(Path(directory), now=PKI_NOW, families=("ec",))
        pki.publish_crls("ec", now=PKI_NOW, days=PKI_DAYS)
        _session_pki.append(pki)
    return _session_pki[0]


async def trust_dev_pki_async(ctx: Any, pki: Any = None) -> None:
    """Accept the dev PKI's CAs and their CRLs in the test database (idempotent)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from signing import trust
    from signing.exceptions import CrlNotNewer

    pki = pki or dev_pki()
    known = {item.ca.fingerprint for item in await trust.list_cas(ctx)}
    for cert in [*pki.roots(), *pki.intermediates()]:
        if cert.fingerprint(hashes.SHA256()).hex() not in known:
            await trust.add_ca(ctx, actor=SETUP, pem_or_der=cert.public_bytes(Encoding.DER))
    for crl in pki.crls():
        try:
            await trust.upload_crl(ctx, actor=SETUP, data=crl.public_bytes(Encoding.DER))
        except CrlNotNewer:
            pass


def trust_dev_pki(run: Run, ctx: Any, pki: Any = None) -> None:
    """Accept the dev PKI's CAs and their CRLs in the test database (idempotent)."""
    run(trust_dev_pki_async, ctx, pki)


def _first_active_user(run: Run, role: Role) -> Any:
    from kernel.accounts.models import User

    async def first() -> Any:
        return await User.filter(role=role, is_active=True).order_by("id").first()

    return run(first)


async def register_officer_key(ctx: Any, actor: Actor, role: str) -> None:
    """An encryption certificate for ``actor`` as opening officer ``role``, unless it has one."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from signing import accounts as certificates

    if await certificates.active_encryption_certificate(actor.user_id) is not None:
        return
    pair = dev_pki().issue(kind="officer", name=actor.username, role=role, now=PKI_NOW,
                           family="ec", days=PKI_DAYS)
    await certificates.register_certificate(
        ctx, actor=actor, der=pair.encryption.certificate.public_bytes(Encoding.DER))


async def officer_certificates_async(ctx: Any, agency: Account | Actor | str) -> None:
    """Encryption certificates for the three opening officers: ``agency`` (an account, an
    actor or a username), the first active supervisor and the first active admin (each
    created, as "officer-supervisor" / "officer-centre", when there is none)."""
    from kernel.accounts.models import User
    from kernel.accounts.sessions import actor_for_user

    await trust_dev_pki_async(ctx)
    if isinstance(agency, str):
        agency = actor_for_user(await User.get(username=agency))
    elif isinstance(agency, Account):
        agency = agency.actor
    await register_officer_key(ctx, agency, "agency")
    for role, officer_role, org_name in (
        (Role.SUPERVISOR, "supervisor", "市住房和城乡建设局（开标监督）"),
        (Role.ADMIN, "centre", "市公共资源交易中心（开标）"),
    ):
        user = await User.filter(role=role, is_active=True).order_by("id").first()
        if user is None:
            username = f"officer-{officer_role}"
            user = await accounts.create_user_with_organization(
                ctx, actor=SETUP, username=username, password=PASSWORD, role=role.value,
                organization_name=org_name, credit_code=creditcode.make_code(username),
                display_name=f"{org_name}·{username}",
            )
        await register_officer_key(ctx, actor_for_user(user), officer_role)


def officer_certificates(run: Run, ctx: Any, agency: Account | Actor | str) -> None:
    """Encryption certificates for the three opening officers (see the async version)."""
    run(officer_certificates_async, ctx, agency)


def bidder_credentials(bidder: Account) -> BidderCredentials:
    """Signing and encryption certificates for ``bidder``'s organisation (cached per code)."""
    from signing.sealed import Signer

    cached = _credentials.get(bidder.credit_code)
    if cached is None:
        pair = dev_pki().issue(kind="company", name=bidder.org_name,
                               credit_code=bidder.credit_code, now=PKI_NOW, family="ec",
                               days=PKI_DAYS)
        cached = _credentials[bidder.credit_code] = BidderCredentials(
            signer=Signer(key=pair.signing.key, certificate=pair.signing.certificate,
                          chain=pair.chain),
            encryption_certificate=pair.encryption.certificate,
            encryption_key=pair.encryption.key, pair=pair,
        )
    return cached


def _tender_key(run: Run, tender_id: int) -> tuple[Any, str]:
    from bidding.models import Tender
    from signing import opening

    async def read() -> tuple[Any, str]:
        setup = await opening.opening_setup(tender_id)
        tender = await Tender.get(id=tender_id)
        assert setup is not None, f"tender {tender_id} has no opening key (not published?)"
        return setup.public_key, tender.key_mode.value

    return run(read)  # type: ignore[no-any-return]


def seal_bid(run: Run, ctx: Any, bidder: Account, tender_id: int, price: str, *, lot: int = 1,
             files: dict[str, bytes] | None = None, project_manager: str = "",
             items: Sequence[Any] = (), duration_days: int | None = 300,
             quality: str = "合格", credentials: BidderCredentials | None = None,
             manifest_signature: bytes | None = None, mode: str | None = None) -> bytes:
    """A sealed package of ``bidder``'s bid, to the tender's opening key, in its key mode."""
    from signing.sealed import BidFields, seal

    opening_key, key_mode = _tender_key(run, tender_id)
    creds = credentials or bidder_credentials(bidder)
    contents = files if files is not None else {
        "投标文件.pdf": bid_bytes(bidder, tender_id, lot, price)}
    out = io.BytesIO()
    seal(
        files=[(name, io.BytesIO(data)) for name, data in contents.items()],
        bid=BidFields(tender=str(tender_id), lot=str(lot), price=price, items=tuple(items),
                      duration_days=duration_days, quality=quality,
                      project_manager=project_manager or f"项目经理{bidder.username}"),
        signer=creds.signer, opening_public_key=opening_key,
        bidder_public_key=creds.encryption_certificate, out=out,
        mode=mode or key_mode,  # type: ignore[arg-type]
        manifest_signature=manifest_signature,
    )
    return out.getvalue()


def submit_package(run: Run, ctx: Any, bidder: Account, tender_id: int, package: bytes, *,
                   lot: int = 1, received_at: datetime | None = None) -> tuple[Any, bytes, bool]:
    """Hand ``package`` to ``submit_sealed_bid`` as received now: (bid, receipt DER, new)."""
    import tempfile
    from pathlib import Path

    directory = Path(ctx.settings.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".sealed") as handle:
        handle.write(package)
        handle.flush()
        return run(  # type: ignore[no-any-return]
            bidding.submit_sealed_bid, ctx, actor=bidder.actor, tender_id=tender_id,
            lot_number=lot, package_path=Path(handle.name),
            received_at=received_at or ctx.clock.now(), remote_addr="10.1.2.3",
        )


def submit_sealed(run: Run, ctx: Any, bidder: Account, tender_id: int, price: str, *,
                  lot: int = 1, **seal_options: Any) -> tuple[int, bytes]:
    """Seal and submit ``bidder``'s bid (registered already): (bid id, receipt DER)."""
    package = seal_bid(run, ctx, bidder, tender_id, price, lot=lot, **seal_options)
    bid, receipt, _ = submit_package(run, ctx, bidder, tender_id, package, lot=lot)
    return int(bid.id), receipt


# -- the opening (issue 3): the officers' keys, the bidders' keys, the shares ---------------


@dataclass(frozen=True)
class Officer:
    """An opening officer: the account that submits the share and the key that decrypts it."""

    actor: Actor
    role: str  # "agency", "supervisor" or "centre"
    encryption_key: Any  # ec.EllipticCurvePrivateKey


def opening_officers(run: Run, ctx: Any, agency: Account) -> dict[str, Officer]:
    """The three opening officers with encryption keys the test keeps: ``agency``, the first
    active supervisor and admin (made when missing). Call before publishing: publication then
    deals the shares to these keys (officer_certificates leaves registered ones alone)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from kernel.accounts.sessions import actor_for_user
    from signing import accounts as certificates

    trust_dev_pki(run, ctx)
    actors = {"agency": agency.actor}
    for role, officer_role, make in ((Role.SUPERVISOR, "supervisor", make_supervisor),
                                     (Role.ADMIN, "centre", make_admin)):
        user = _first_active_user(run, role)
        actors[officer_role] = (make(run, ctx, username=f"officer-{officer_role}").actor
                                if user is None else actor_for_user(user))
    officers = {}
    for role, actor in actors.items():
        assert run(certificates.active_encryption_certificate, actor.user_id) is None, (
            f"the {role} officer has an encryption certificate whose key the test lacks")
        pair = dev_pki().issue(kind="officer", name=actor.username, role=role, now=PKI_NOW,
                               family="ec", days=PKI_DAYS)
        run(certificates.register_certificate, ctx, actor=actor,
            der=pair.encryption.certificate.public_bytes(Encoding.DER))
        officers[role] = Officer(actor=actor, role=role, encryption_key=pair.encryption.key)
    return officers


def officer_share(run: Run, officer: Officer, tender_id: int) -> tuple[int, str]:
    """What the officer's own machine does: decrypt its share of the tender's opening key;
    (index, base64 share) as POST .../opening/shares takes them."""
    import base64

    from signing import opening
    from signing.opening_key import decrypt_share
    from signing.sealed import keys

    setup = run(opening.opening_setup, tender_id)
    key_id = keys.key_id(officer.encryption_key.public_key())
    encrypted = next(s for s in setup.shares if s.key_id == key_id)
    share = decrypt_share(encrypted, officer.encryption_key, setup.tender)
    return share.index, base64.b64encode(share.value).decode()


def send_share(run: Run, ctx: Any, officer: Officer, tender_id: int) -> Any:
    """Submit ``officer``'s share through the service: the ShareCount."""
    index, share = officer_share(run, officer, tender_id)
    return run(bidding.submit_share, ctx, actor=officer.actor, tender_id=tender_id,
               index=index, share=share)


def key_message(run: Run, ctx: Any, bidder: Account, bid_id: int, *,
                data_key: bytes | None = None) -> dict[str, str]:
    """What ``ebid-client decrypt`` sends for one bid: the data key (the bidder's half in
    "both" mode) unwrapped with the bidder's encryption key, signed by its signing key."""
    import base64

    from bidding.models import Bid
    from bidding.services.opening import key_request
    from signing.cms import sign_detached
    from signing.sealed import read_header, unwrap_share

    bid = run(Bid.get, id=bid_id)
    creds = bidder_credentials(bidder)
    if data_key is None:
        with ctx.blobs.open(bid.sha256) as f:
            data_key = unwrap_share(read_header(f), creds.encryption_key, "bidder")
    text = base64.b64encode(data_key).decode()
    content = key_request(tender_id=bid.tender_id, bid_id=bid.id, package_sha256=bid.sha256,
                          data_key=text)
    signature = sign_detached(content, key=creds.signer.key, certificate=creds.signer.certificate,
                              chain=creds.signer.chain)
    return {"data_key": text, "signature": base64.b64encode(signature).decode()}


def send_key(run: Run, ctx: Any, bidder: Account, bid_id: int, **options: Any) -> Any:
    """``bidder`` sends the key of its bid ``bid_id`` through the service: the Bid after."""
    from bidding.models import Bid

    tender_id = run(Bid.get, id=bid_id).tender_id
    return run(bidding.submit_key, ctx, actor=bidder.actor, tender_id=tender_id, bid_id=bid_id,
               **key_message(run, ctx, bidder, bid_id, **options))


def decrypt_bids(run: Run, ctx: Any, made: MadeTender,
                 bidders: Sequence[Account] | None = None) -> None:
    """Each of ``bidders`` (default: all of the tender's) sends the key of its sealed bid, as
    at the opening."""
    from bidding.models import Bid, Decryption

    for bidder in (made.bidders if bidders is None else bidders):
        bid_id = made.bid_ids.get(bidder.username)
        if bid_id is None:
            continue
        bid = run(Bid.get, id=bid_id)
        if bid.receipt is not None and bid.decryption == Decryption.PENDING:
            send_key(run, ctx, bidder, bid_id)
