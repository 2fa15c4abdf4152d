"""Resumable uploads (bidding.services.uploads and its API): chunks, offsets, completion.

The deadline is judged by when the last byte arrived, not by the complete call; a refused chunk
or a wrong hash leaves nothing behind; an upload is its starter's alone and does not outlive a
day or its tender's opening.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import factories
import pytest

from bidding.models import Bid
from bidding.services import uploads
from signing.cms import verify_attached
from signing.exceptions import CrlOutOfDate
from signing.receipts import Receipt


@pytest.fixture
def made(run: Any, ctx: Any, clock: Any) -> factories.MadeTender:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, seed) for seed in ("up-a", "up-b")]
    return factories.make_tender(run, ctx, clock, agency, bidders=bidders)


@pytest.fixture
def package(run: Any, ctx: Any, made: factories.MadeTender) -> bytes:
    return factories.seal_bid(run, ctx, made.bidders[0], made.id, "10980000.00")


def _start(api: Any, tender_id: int, data: bytes, **overrides: Any) -> Any:
    body = {"lot": 1, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            **overrides}
    return api.post(f"/api/v1/tenders/{tender_id}/uploads", json=body)


def _put(api: Any, upload_id: str, offset: int, data: bytes) -> Any:
    return api.put(f"/api/v1/uploads/{upload_id}?offset={offset}", content=data,
                   headers={"content-type": "application/octet-stream"})


def _receipt(answer: Any) -> Receipt:
    content, _ = verify_attached(base64.b64decode(answer.json()["receipt"]), what="receipt")
    return Receipt.from_json(content)


def test_chunks_resume_from_the_offset_and_the_last_byte_sets_the_time(
    client, run, ctx, clock, made, package
):
    api = factories.login(client, made.bidders[0], api=True)
    started = _start(api, made.id, package)
    assert started.status_code == 201, started.text
    upload_id = started.json()["upload_id"]
    assert started.json()["offset"] == 0 and started.json()["chunk_size"] > 0

    half = len(package) // 2
    assert _put(api, upload_id, 0, package[:half]).json() == {"offset": half}
    wrong = _put(api, upload_id, 0, package[:half])
    assert wrong.status_code == 409
    assert wrong.json()["offset"] == half and wrong.json()["error"] == "upload_offset_mismatch"
    status = api.get(f"/api/v1/uploads/{upload_id}").json()
    assert (status["offset"], status["size"], status["lot"], status["tender_id"]) == (
        half, len(package), 1, made.id)

    early = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert early.status_code == 409 and early.json()["error"] == "upload_incomplete"
    assert early.json()["offset"] == half

    clock.advance(minutes=5)
    last_byte = clock.now()
    assert _put(api, upload_id, half, package[half:]).json() == {"offset": len(package)}
    clock.advance(minutes=7)
    done = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert done.status_code == 201, done.text
    receipt = _receipt(done)
    assert receipt.received_at == last_byte.astimezone(UTC)
    assert receipt.package_sha256 == hashlib.sha256(package).hexdigest()
    assert done.json()["receipt_fields"] == receipt.to_dict()
    bid = run(Bid.get, id=done.json()["bid_id"])
    assert bid.submitted_at == last_byte and bid.sha256 == receipt.package_sha256

    # A retry after a lost answer gets the same receipt; the part file is gone.
    again = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert again.status_code == 200 and again.json()["receipt"] == done.json()["receipt"]
    assert not (ctx.settings.upload_dir / upload_id / uploads.DATA).exists()


def test_last_byte_before_the_deadline_completes_after_it(client, run, ctx, clock, made,
                                                           package):
    clock.set(made.deadline_at - timedelta(minutes=10))
    api = factories.login(client, made.bidders[0], api=True)  # sessions last 8 hours
    upload_id = _start(api, made.id, package).json()["upload_id"]
    clock.set(made.deadline_at - timedelta(seconds=1))
    assert _put(api, upload_id, 0, package).status_code == 200
    clock.set(made.deadline_at + timedelta(seconds=20))  # within the intake grace
    done = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert done.status_code == 201, done.text
    assert _receipt(done).received_at == (made.deadline_at - timedelta(seconds=1)).astimezone(UTC)


def test_bytes_after_the_deadline_are_refused(client, run, ctx, clock, made, package):
    clock.set(made.deadline_at - timedelta(minutes=10))
    api = factories.login(client, made.bidders[0], api=True)  # sessions last 8 hours
    upload_id = _start(api, made.id, package).json()["upload_id"]
    assert _put(api, upload_id, 0, package[:10]).status_code == 200
    clock.set(made.deadline_at)
    late = _put(api, upload_id, 10, package[10:])
    assert late.status_code == 409 and late.json()["error"] == "deadline_passed"
    assert _start(api, made.id, package).json()["error"] == "deadline_passed"
    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    gone = api.get(f"/api/v1/uploads/{upload_id}")
    assert gone.status_code == 410 and gone.json()["error"] == "upload_expired"
    assert api.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_a_chunk_beyond_the_size_is_refused_whole(client, made, package):
    api = factories.login(client, made.bidders[0], api=True)
    upload_id = _start(api, made.id, package).json()["upload_id"]
    assert _put(api, upload_id, 0, package[:100]).json() == {"offset": 100}
    over = _put(api, upload_id, 100, package[100:] + b"extra")
    assert over.status_code == 413 and over.json()["error"] == "upload_overrun"
    assert api.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == 100


def test_a_wrong_hash_discards_the_upload(client, run, made, package):
    api = factories.login(client, made.bidders[0], api=True)
    upload_id = _start(api, made.id, package, sha256="ab" * 32).json()["upload_id"]
    _put(api, upload_id, 0, package)
    refused = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert refused.status_code == 400 and refused.json()["error"] == "upload_sha256_mismatch"
    assert api.get(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert run(Bid.all().count) == 0


def test_a_refused_package_is_answered_like_the_one_shot_post(client, run, ctx, made):
    api = factories.login(client, made.bidders[0], api=True)
    # Sealed by the other bidder: its certificate is not this account's company.
    foreign = factories.seal_bid(run, ctx, made.bidders[1], made.id, "11020000.00")
    upload_id = _start(api, made.id, foreign).json()["upload_id"]
    _put(api, upload_id, 0, foreign)
    refused = api.post(f"/api/v1/uploads/{upload_id}/complete")
    one_shot = api.post(f"/api/v1/tenders/{made.id}/bids?lot=1", content=foreign,
                        headers={"content-type": "application/octet-stream"})
    assert refused.status_code == one_shot.status_code == 403  # certificate_not_the_bidders
    assert refused.json() == one_shot.json()
    assert run(Bid.all().count) == 0
    assert api.get(f"/api/v1/uploads/{upload_id}").status_code == 404  # removed with it


def test_a_refusal_the_centre_mends_keeps_the_upload(client, run, ctx, made, package,
                                                    monkeypatch):
    """A CA's CRL out of date is the platform's to mend: the upload waits, and completes
    afterwards with the time its last byte arrived."""
    api = factories.login(client, made.bidders[0], api=True)
    upload_id = _start(api, made.id, package).json()["upload_id"]
    _put(api, upload_id, 0, package)
    real = uploads.submit_sealed_bid

    async def crl_expired(*args: Any, **kwargs: Any) -> Any:
        raise CrlOutOfDate(issuer="CN=某CA", next_update="2026-03-01 00:00:00 UTC",
                           subject="CN=投标人")

    monkeypatch.setattr(uploads, "submit_sealed_bid", crl_expired)
    refused = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert refused.status_code == 400 and refused.json()["error"] == "crl_out_of_date"
    assert api.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == len(package)
    monkeypatch.setattr(uploads, "submit_sealed_bid", real)
    assert api.post(f"/api/v1/uploads/{upload_id}/complete").status_code == 201


def test_refused_packages_do_not_use_up_the_unfinished_uploads(client, run, ctx, made,
                                                               package):
    api = factories.login(client, made.bidders[0], api=True)
    foreign = factories.seal_bid(run, ctx, made.bidders[1], made.id, "11020000.00")
    for _ in range(uploads.MAX_OPEN_UPLOADS + 1):
        upload_id = _start(api, made.id, foreign).json()["upload_id"]
        _put(api, upload_id, 0, foreign)
        assert api.post(f"/api/v1/uploads/{upload_id}/complete").status_code == 403
    upload_id = _start(api, made.id, package).json()["upload_id"]
    _put(api, upload_id, 0, package)
    assert api.post(f"/api/v1/uploads/{upload_id}/complete").status_code == 201
    # Unfinished ones still count, and the refusal says how to go on.
    for _ in range(uploads.MAX_OPEN_UPLOADS):
        assert _start(api, made.id, foreign).status_code == 201
    full = _start(api, made.id, foreign)
    assert full.status_code == 400 and "POST .../bids" in full.json()["message"]


def test_an_upload_is_its_starters_alone(client, made, package):
    owner = factories.login(client, made.bidders[0], api=True)
    other = factories.login(client, made.bidders[1], api=True)
    upload_id = _start(owner, made.id, package).json()["upload_id"]
    assert other.get(f"/api/v1/uploads/{upload_id}").status_code == 403
    assert _put(other, upload_id, 0, package).status_code == 403
    assert other.post(f"/api/v1/uploads/{upload_id}/complete").status_code == 403
    assert owner.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == 0
    assert owner.get("/api/v1/uploads/not-an-upload-id-at-all-xx").status_code == 404
    agency = factories.login(client, made.agency, api=True)
    assert agency.get(f"/api/v1/uploads/{upload_id}").status_code == 403


def test_start_refusals(client, run, ctx, made, package):
    api = factories.login(client, made.bidders[0], api=True)
    assert _start(api, made.id, package, sha256="xyz").json()["error"] == "invalid_input"
    assert _start(api, made.id, package, size=0).json()["error"] == "invalid_input"
    assert _start(api, made.id, package, lot=9).json()["error"] == "invalid_input"
    too_big = _start(api, made.id, package, size=ctx.settings.max_bid_bytes + 1)
    assert too_big.status_code == 413
    outsider = factories.make_bidder(run, ctx, "up-c")
    stranger = factories.login(client, outsider, api=True)
    assert _start(stranger, made.id, package).json()["error"] == "not_registered"
    assert _start(api, 999999, package).status_code == 404


def test_a_second_writer_is_told_the_offset(client, ctx, made, package, monkeypatch):
    monkeypatch.setattr(uploads, "LOCK_WAIT_SECONDS", 0.0)  # no waiting for the held lock
    api = factories.login(client, made.bidders[0], api=True)
    upload_id = _start(api, made.id, package).json()["upload_id"]
    _put(api, upload_id, 0, package[:50])
    with (ctx.settings.upload_dir / upload_id / uploads.DATA).open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = _put(api, upload_id, 50, package[50:])
        assert busy.status_code == 409
        assert busy.json() == {"error": "upload_busy", "message": busy.json()["message"],
                               "offset": 50}


def test_a_broken_connection_keeps_what_arrived(run, ctx, made, package):
    bidder = made.bidders[0]
    upload = run(uploads.start, ctx, actor=bidder.actor, tender_id=made.id, lot_number=1,
                 size=len(package), sha256=hashlib.sha256(package).hexdigest())

    async def broken() -> AsyncIterator[bytes]:
        yield package[:300]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        run(uploads.write_chunk, ctx, actor=bidder.actor, upload_id=upload.upload_id,
            offset=0, chunks=broken())
    _, offset = run(uploads.status, ctx, actor=bidder.actor, upload_id=upload.upload_id)
    assert offset == 300


def test_the_tick_removes_stale_uploads(run, ctx, clock, made, package):
    bidder = made.bidders[0]
    digest = hashlib.sha256(package).hexdigest()
    first = run(uploads.start, ctx, actor=bidder.actor, tender_id=made.id, lot_number=1,
                size=len(package), sha256=digest)
    clock.advance(hours=20)
    second = run(uploads.start, ctx, actor=bidder.actor, tender_id=made.id, lot_number=1,
                 size=len(package), sha256=digest)
    assert run(uploads.clean_expired, ctx) == 0
    clock.advance(hours=5)
    assert run(uploads.clean_expired, ctx) == 1  # the first is over a day old
    assert not (ctx.settings.upload_dir / first.upload_id).exists()
    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    assert run(uploads.clean_expired, ctx) == 1  # its tender's opening has begun
    assert not (ctx.settings.upload_dir / second.upload_id).exists()
    # A start that crashed before its note: judged by the directory's (real) time.
    (ctx.settings.upload_dir / "crashed-start-without-a-note").mkdir()
    assert run(uploads.clean_expired, ctx) == 0
    clock.set(datetime.now(UTC) + timedelta(days=2))
    assert run(uploads.clean_expired, ctx) == 1


def test_a_complete_that_lost_the_race_answers_the_winners_receipt(
    client, run, ctx, made, package, monkeypatch
):
    api = factories.login(client, made.bidders[0], api=True)
    upload_id = _start(api, made.id, package).json()["upload_id"]
    _put(api, upload_id, 0, package)
    first = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert first.status_code == 201
    # The loser read the note before the winner wrote the bid into it.
    directory = ctx.settings.upload_dir / upload_id
    stale = uploads._read_meta(directory)
    read = uploads._read_meta
    calls = []

    def stale_first(path: Any) -> uploads.Upload:
        calls.append(path)
        if len(calls) == 1:
            return uploads.Upload(**{**stale.__dict__, "bid_id": None})
        return read(path)

    monkeypatch.setattr(uploads, "_read_meta", stale_first)
    late = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert late.status_code == 200 and late.json()["receipt"] == first.json()["receipt"]
