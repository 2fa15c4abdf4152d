"""A supervisor works a collusion case in Chromium: the red mark on the workspace list leads to
the case page (screenshot in test-artifacts/screenshots/collusion-case.png), the case is
dismissed with a reason; a bidder of the ring sees no mark.

The tender and its sealed bids are made through the services before the server starts (a ring
of two firms naming the same project manager and uploading the same text); every bidder sends
its key at the opening, whose end runs the analysis as on a live platform. The server is the
walkthrough's app (tests/browser/server_app.py) without its seeding.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from test_walkthrough import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SHOTS,
    T0,
    Server,
    _database,
    _free_port,
    _wait_until_up,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium on PATH"),
]

# Runs in a subprocess: the server process must find the database as the platform left it.
SEED = r'''
import asyncio, sys
from datetime import timedelta
from pathlib import Path
sys.path[:0] = ["tests", "tests/browser"]
import factories
from server_app import make_settings
from bidding import services as bidding
from ebid.app import build_context
from ebid.config import tortoise_config
from ebid.migrate import migrate
from kernel import db
from kernel.clock import FixedClock
from datetime import datetime

url, data_dir, clock_file, t0 = sys.argv[1:5]
settings = make_settings(url, Path(data_dir))
loop = asyncio.new_event_loop()
loop.run_until_complete(migrate(settings))
loop.run_until_complete(db.init(tortoise_config(settings)))
clock = FixedClock(datetime.fromisoformat(t0))
ctx = build_context(settings, clock)

def run(fn, *args, **kwargs):
    return loop.run_until_complete(fn(*args, **kwargs))

agency = factories.make_agency(run, ctx)
factories.make_supervisor(run, ctx, "jiandu")
ring = [factories.make_bidder(run, ctx, s) for s in ("ring-a", "ring-b")]
honest = factories.make_bidder(run, ctx, "honest")
made = factories.make_tender(run, ctx, clock, agency, state="published",
                             bidders=[*ring, honest])
copied = "".join(f"第{n}节 第{n}施工段投入挖掘机{n % 3 + 1}台，项目经理王建国每周组织例会，"
                 f"第{n}批商品混凝土浇筑前做坍落度检测。" for n in range(1, 31)).encode()
for bidder, price, text, manager in (
        (ring[0], "11020000.00", copied, "王建国"), (ring[1], "11160000.00", copied, "王建国"),
        (honest, "10890000.00", "我公司自有设备，项目经理李明。".encode(), "李明")):
    made.bid_ids[bidder.username], _ = factories.submit_sealed(
        run, ctx, bidder, made.id, price, files={"投标文件.txt": text},
        project_manager=manager)
clock.set(made.deadline_at + timedelta(seconds=settings.intake_grace_seconds))
run(bidding.advance_due, ctx)
factories.decrypt_bids(run, ctx, made)  # every key in: the opening ends, the analysis runs
Path(clock_file).write_text((clock.now() + timedelta(hours=1)).isoformat())
print(made.id, made.title)
loop.run_until_complete(db.close())
'''
# The walkthrough's server without its seeding (the factories made the accounts already).
SERVE = r'''
import sys
from pathlib import Path
sys.path.insert(0, "tests/browser")
import uvicorn
from server_app import build, make_settings

url, data_dir, clock_file, port = sys.argv[1:5]
uvicorn.run(build(make_settings(url, Path(data_dir)), Path(clock_file)), host="127.0.0.1",
            port=int(port), log_level="warning", access_log=False)
'''


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Server, int, str]]:
    port = _free_port()
    clock_file = tmp_path / "clock.txt"
    live = Server(f"http://127.0.0.1:{port}", clock_file)
    log_path = tmp_path / "server.log"
    with _database(tmp_path) as database_url, log_path.open("wb") as log:
        seed = subprocess.run(
            [sys.executable, "-c", SEED, database_url, str(tmp_path / "data"), str(clock_file),
             T0.isoformat()],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert seed.returncode == 0, seed.stderr[-3000:]
        tender_id, title = seed.stdout.strip().splitlines()[-1].split(" ", 1)
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, database_url, str(tmp_path / "data"),
             str(clock_file), str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(live, proc, log_path)
            yield live, int(tender_id), title
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_supervisor_works_the_case_a_bidder_sees_nothing(seeded) -> None:
    import factories

    server, tender_id, title = seeded
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=10_000)

        @contextlib.contextmanager
        def logged_in(username: str) -> Iterator[Page]:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          locale="zh-CN", timezone_id="Asia/Shanghai")
            try:
                page = context.new_page()
                page.goto(server.url("/login"))
                page.get_by_label("用户名", exact=True).fill(username)
                page.get_by_label("密码", exact=True).fill(factories.PASSWORD)
                page.get_by_role("button", name="登录", exact=True).click()
                expect(page).to_have_url(server.url("/workspace"))
                yield page
            finally:
                context.close()

        with logged_in("jiandu") as page:
            mark = page.locator(".risk-mark").first
            expect(mark).to_contain_text("串标风险")
            mark.click()
            expect(page).to_have_url(server.url(f"/supervision/collusion/tenders/{tender_id}"))
            expect(page.get_by_role("heading", level=1)).to_contain_text(title)
            expect(page.locator(".side-by-side").first).to_contain_text("王建国")
            page.screenshot(path=SHOTS / "collusion-case.png", full_page=True)
            page.get_by_label("改为", exact=True).select_option("dismissed")
            page.get_by_label("理由", exact=True).fill("两家为同一集团的分公司，已另行处理")
            page.get_by_role("button", name="保存状态", exact=True).click()
            expect(page.locator(".flash")).to_contain_text("案卷状态已更新")
            expect(page.locator("table").last).to_contain_text("两家为同一集团的分公司")
            page.screenshot(path=SHOTS / "collusion-case-dismissed.png", full_page=True)

        with logged_in("bidder-ring-a") as page:
            page.goto(server.url(f"/tenders/{tender_id}"))
            expect(page.get_by_role("heading", level=1)).to_contain_text(title)
            expect(page.locator(".risk-mark")).to_have_count(0)
        browser.close()
