"""The scheduler: opens tenders whose deadline passed, catches up after a restart, checkpoints
the audit chain; and the PostgreSQL job queue runs the same tick through procrastinate."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import timedelta

import factories
import pytest
from starlette.datastructures import Headers, UploadFile

from bidding import services
from bidding.models import Tender, TenderStatus
from ebid import jobs
from ebid.worker import make_queue, run_worker
from kernel.accounts import services as accounts
from kernel.accounts.creditcode import make_code
from kernel.accounts.models import Role
from kernel.accounts.services import actor_for_user

PASSWORD = "Correct-Horse-42"


def _upload(name: str = "招标文件.txt") -> UploadFile:
    return UploadFile(file=io.BytesIO("第一章 招标公告".encode()), filename=name,
                      headers=Headers({"content-type": "text/plain"}))


async def _published_tenders(ctx, n: int) -> list[int]:
    admin = actor_for_user(await accounts.create_first_admin(ctx, username="root",
                                                              password=PASSWORD))
    agency_user = await accounts.create_user_with_organization(
        ctx, actor=admin, username="daili", password=PASSWORD, role=Role.AGENCY,
        organization_name="贵州建设招标代理有限公司", credit_code=make_code("agency"),
    )
    agency = actor_for_user(agency_user)
    await factories.officer_certificates_async(ctx, agency)
    ids = []
    for i in range(n):
        tender = await services.create_tender(ctx, actor=agency, data=services.TenderIn(
            title=f"测试项目第{i + 1}号", category="engineering", method="open",
            tenderer_name="某某县交通运输局", estimate="1000000", price_ceiling="980000",
            deposit="20000", deadline_at=ctx.clock.now() + timedelta(days=30 + i),
        ))
        await services.upload_document(ctx, actor=agency, tender_id=tender.id, upload=_upload())
        await services.publish(ctx, actor=agency, tender_id=tender.id)
        ids.append(tender.id)
    return ids


def test_tick_catches_up_on_every_overdue_tender(run, ctx, clock) -> None:
    ids = run(_published_tenders, ctx, 3)
    assert run(jobs.tick, ctx) == {"opened": 0}
    # The server was down for 40 days: every deadline passed meanwhile.
    clock.advance(days=40)
    assert run(jobs.tick, ctx) == {"opened": 3}
    statuses = {t.status for t in run(Tender.filter(id__in=ids).all)}
    # No bids: every tender failed at its opening (流标).
    assert statuses == {TenderStatus.FAILED}
    # Idempotent: a second tick moves nothing.
    assert run(jobs.tick, ctx) == {"opened": 0}
    report = run(ctx.audit.verify)
    assert report.ok, list(report.lines())


def test_tick_writes_a_signed_checkpoint(run, ctx, clock) -> None:
    run(_published_tenders, ctx, 1)
    run(jobs.tick, ctx)
    entries = ctx.audit.checkpoints.entries()
    assert entries
    _, last = entries[-1]
    assert last is not None and last.seq > 0


def test_in_process_runner_starts_and_stops(run, ctx, clock) -> None:
    async def start_stop() -> bool:
        runner = jobs.InProcessRunner(ctx)
        runner.start()
        await asyncio.sleep(0)
        await runner.stop()
        return runner._task is not None and runner._task.done()

    assert run(start_stop)


@pytest.mark.skipif(
    not os.environ.get("EBID_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the procrastinate queue needs PostgreSQL",
)
def test_worker_runs_the_periodic_tick_on_postgres(settings) -> None:
    queue = make_queue(settings)
    assert "ebid.tick" in queue.tasks

    async def defer_and_work() -> None:
        async with queue.open_async():
            await queue.tasks["ebid.tick"].defer_async(timestamp=0)
        # wait=False: work through what is queued, then return.
        await run_worker(settings, wait=False)

    asyncio.run(defer_and_work())


def test_the_job_queue_gets_a_libpq_url_without_tortoises_parameters() -> None:
    from ebid.worker import _conninfo

    url = "postgres://u@h:5432/db?schema=s1&minsize=1&maxsize=4&sslmode=require"
    assert _conninfo(url) == (
        "postgresql://u@h:5432/db?sslmode=require&options=-csearch_path%3Ds1")
