"""signing.login and its API: a certificate-signed challenge opens a session and a one-time link."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import factories
import pytest
from conftest import T0
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from kernel.audit.models import AuditEvent
from kernel.http import SESSION_COOKIE
from signing import cms, login, trust
from signing.keys import FINGERPRINT_KEY_FILE
from signing.pki import DevPKI
from signing.pki.devpki import IssuedPair

COMPANY = "黔南测试建设工程有限公司"


@pytest.fixture
def pki(tmp_path: Any) -> DevPKI:
    return DevPKI.create(tmp_path / "pki", now=T0, families=("ec",))


def _trust(run: Any, ctx: Any, pki: DevPKI) -> factories.Account:
    """The centre accepts the dev EC CAs and holds their current CRLs."""
    admin = factories.make_admin(run, ctx)
    run(trust.add_ca, ctx, actor=admin.actor,
        pem_or_der=(pki.directory / "ec/root.crt.pem").read_bytes())
    run(trust.add_ca, ctx, actor=admin.actor,
        pem_or_der=pki.authority("ec").certificate.public_bytes(Encoding.DER))
    for authority in ("ec/root", "ec/intermediate"):
        run(trust.upload_crl, ctx, actor=admin.actor, data=pki.crl_path(authority).read_bytes())
    return admin


def _company(pki: DevPKI, bidder: factories.Account, **kwargs: Any) -> IssuedPair:
    return pki.issue(kind="company", name=bidder.org_name, credit_code=bidder.credit_code,
                     now=T0, family="ec", **kwargs)


def _signed(api: Any, pair: IssuedPair, *, encryption: bool = False,
            content: bytes | None = None) -> dict[str, str]:
    """Ask for a challenge and sign it as ebid-client does: detached CMS, chain included."""
    answer = api.post("/api/v1/auth/challenge")
    assert answer.status_code == 201, answer.text
    challenge = base64.b64decode(answer.json()["challenge"])
    assert len(challenge) == login.CHALLENGE_BYTES
    half = pair.encryption if encryption else pair.signing
    signature = cms.sign_detached(content or challenge, key=half.key,  # type: ignore[arg-type]
                                  certificate=half.certificate, chain=pair.chain)
    return {"challenge": base64.b64encode(challenge).decode(),
            "signature": base64.b64encode(signature).decode()}


def _login(api: Any, body: dict[str, str]) -> Any:
    return api.post("/api/v1/auth/certificate", json=body)


@pytest.fixture
def setup(client, run, ctx, pki, monkeypatch) -> tuple[Any, factories.Account, IssuedPair]:
    factories.cheap_password_hashing(monkeypatch)
    _trust(run, ctx, pki)
    bidder = factories.make_bidder(run, ctx, "cert")
    api = factories.new_client(client)
    return api, bidder, _company(pki, bidder)


def test_signed_challenge_gives_a_token_and_a_one_time_link(client, setup, run):
    api, bidder, pair = setup
    answer = _login(api, _signed(api, pair))
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["user"]["id"] == bidder.user_id
    assert data["user"]["organization"]["credit_code"] == bidder.credit_code
    assert data["certificate"]["fingerprint"] == (
        pair.signing.certificate.fingerprint(hashes.SHA256()).hex()
    )
    assert data["login_url"].startswith("/login/link/")

    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.status_code == 200 and me.json()["username"] == bidder.username

    browser = factories.new_client(client, follow_redirects=False)
    opened = browser.get(data["login_url"])
    assert opened.status_code == 303 and opened.headers["location"] == "/workspace"
    assert browser.cookies.get(SESSION_COOKIE)
    assert opened.headers["cache-control"] == "no-store"
    assert browser.get("/workspace").status_code == 200
    # The cookie is a session of its own, not the client's bearer token.
    assert browser.cookies.get(SESSION_COOKIE) != data["token"]

    again = factories.new_client(client, follow_redirects=False).get(data["login_url"])
    assert again.status_code == 401
    assert again.template.name == "signing/login-link.html"  # type: ignore[attr-defined]
    assert "ebid-client login" in again.text

    events = run(lambda: AuditEvent.filter(action="kernel:session:opened").order_by("id"))
    methods = [event.detail.get("method") for event in events]
    assert methods == ["certificate", "certificate_link"]
    assert events[0].detail["certificate"] == data["certificate"]["fingerprint"]


def test_challenge_is_good_once_and_for_two_minutes(setup, clock):
    api, _, pair = setup
    body = _signed(api, pair)
    assert _login(api, body).status_code == 200
    used = _login(api, body)
    assert used.status_code == 401 and used.json()["error"] == "challenge_used"

    stale = _signed(api, pair)
    clock.advance(seconds=login.CHALLENGE_SECONDS + 1)
    expired = _login(api, stale)
    assert expired.status_code == 401 and expired.json()["error"] == "challenge_expired"

    unknown = dict(_signed(api, pair), challenge=base64.b64encode(b"x" * 32).decode())
    assert _login(api, unknown).json()["error"] == "challenge_unknown"


def test_login_link_expires(client, setup, clock):
    api, _, pair = setup
    data = _login(api, _signed(api, pair)).json()
    clock.advance(seconds=login.LINK_SECONDS + 1)
    late = factories.new_client(client, follow_redirects=False).get(data["login_url"])
    assert late.status_code == 401
    assert factories.new_client(client).get("/login/link/nonsense").status_code == 401


def test_a_bad_signature_burns_the_challenge(setup):
    api, _, pair = setup
    body = _signed(api, pair, content=b"some other document")
    refused = _login(api, body)
    assert refused.status_code == 401
    assert refused.json()["error"] == "bad_login_signature"
    assert "摘要" in refused.json()["message"]
    assert _login(api, body).json()["error"] == "challenge_used"
    garbage = dict(_signed(api, pair), signature=base64.b64encode(b"\x30\x03abc").decode())
    assert _login(api, garbage).json()["error"] == "bad_login_signature"
    assert _login(api, {"challenge": "!!", "signature": ""}).json()["error"] == "invalid_input"


def test_certificate_refusals_name_their_reason(client, run, ctx, setup, pki, clock, tmp_path):
    api, bidder, pair = setup

    wrong_usage = _login(api, _signed(api, pair, encryption=True))
    assert wrong_usage.status_code == 400
    assert wrong_usage.json()["error"] == "wrong_key_usage"

    expired = _company(pki, bidder, not_before=T0 - timedelta(days=30),
                       not_after=T0 - timedelta(days=1))
    answer = _login(api, _signed(api, expired))
    assert answer.json()["error"] == "certificate_expired"
    assert "2026-03-01 01:00:00 UTC" in answer.json()["message"]

    stranger = DevPKI.create(tmp_path / "stranger", now=T0, families=("ec",))
    unknown = _login(api, _signed(api, _company(stranger, bidder))).json()
    assert unknown["error"] == "unknown_issuer"

    pki.revoke(pair.signing.certificate.serial_number, now=T0 + timedelta(minutes=1))
    pki.publish_crls("ec", now=T0 + timedelta(minutes=2))
    clock.advance(minutes=3)
    admin = factories.make_admin(run, ctx, "second-admin")
    run(trust.upload_crl, ctx, actor=admin.actor,
        data=pki.crl_path("ec/intermediate").read_bytes())
    revoked = _login(api, _signed(api, pair)).json()
    assert revoked["error"] == "certificate_revoked"


def test_no_account_for_the_credit_code_or_no_code_at_all(run, ctx, setup, pki):
    api, _, _ = setup
    nobody = factories.Account(username="-", role=factories.Role.BIDDER, user_id=0,
                               organization_id=None, org_name="未注册建设有限公司",
                               credit_code=factories.creditcode.make_code("nobody"))
    answer = _login(api, _signed(api, _company(pki, nobody))).json()
    assert answer["error"] == "no_account_for_certificate"
    assert nobody.credit_code in answer["message"]

    expert = pki.issue(kind="expert", name="张工", now=T0, family="ec")
    assert _login(api, _signed(api, expert)).json()["error"] == "certificate_without_credit_code"


def test_failures_are_throttled_per_company(run, ctx, setup, pki):
    api, _, pair = setup
    for _ in range(ctx.settings.login_max_failures):
        assert _login(api, _signed(api, pair, encryption=True)).status_code == 400
    locked = _login(api, _signed(api, pair))
    assert locked.status_code == 429 and locked.json()["error"] == "login_throttled"
    assert 1 <= int(locked.headers["retry-after"]) <= ctx.settings.login_window_seconds
    failures = run(lambda: AuditEvent.filter(action="kernel:login:failed").count())
    assert failures == ctx.settings.login_max_failures + 1


def test_fingerprint_key_is_for_logged_in_users_and_stable(client, ctx, setup):
    api, bidder, _ = setup
    assert api.get("/api/v1/fingerprint-key").status_code == 401
    browser = factories.login(client, bidder, api=True)
    first = browser.get("/api/v1/fingerprint-key")
    assert first.status_code == 200
    key = base64.b64decode(first.json()["key"])
    assert len(key) == 32 and first.json()["algorithm"] == "HMAC-SHA256"
    assert (ctx.settings.key_dir / FINGERPRINT_KEY_FILE).read_bytes() == key
    assert browser.get("/api/v1/fingerprint-key").json()["key"] == first.json()["key"]


def test_old_challenges_are_purged(run, ctx, setup, clock):
    api, _, pair = setup
    _signed(api, pair)
    assert run(login.purge_expired, ctx) == 0
    clock.advance(days=2)
    assert run(login.purge_expired, ctx) == 1
