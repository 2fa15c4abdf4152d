"""Portal search: any fragment of a title, code or tenderer, through the search indexes
(FTS5 trigram on SQLite, pg_trgm on PostgreSQL) and the LIKE fallback for short fragments."""

from __future__ import annotations

import factories
import pytest

from bidding import services
from bidding.services import queries


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


@pytest.fixture
def published(run, ctx, clock):
    agency = factories.make_agency(run, ctx)
    titles = ["城南体育馆改造工程", "县人民医院门诊楼建设", "第二中学体育馆屋面维修"]
    return [
        factories.make_tender(run, ctx, clock, agency, state="published", title=title)
        for title in titles
    ]


def _titles(page) -> set[str]:
    return {item.title for item in page.items}


def test_three_character_fragment(run, published) -> None:
    page = run(queries.public_tenders, q="体育馆")
    assert _titles(page) == {"城南体育馆改造工程", "第二中学体育馆屋面维修"}
    assert page.total == 2


def test_short_fragment_falls_back_to_like(run, published) -> None:
    assert _titles(run(queries.public_tenders, q="医院")) == {"县人民医院门诊楼建设"}


def test_code_and_tenderer(run, published) -> None:
    made = published[1]
    assert _titles(run(queries.public_tenders, q=made.code)) == {made.title}
    assert run(queries.public_tenders, q="城西水务").total == 3  # the factories' tenderer


def test_notices_by_title_fragment_and_by_code(run, published) -> None:
    by_title = run(queries.notices, q="体育馆")
    assert {n.tender_id for n in by_title.items} == {published[0].id, published[2].id}
    by_code = run(queries.notices, q=published[1].code)
    assert {n.tender_id for n in by_code.items} == {published[1].id}


def test_index_follows_edits(run, ctx, clock) -> None:
    agency = factories.make_agency(run, ctx)
    made = factories.make_tender(run, ctx, clock, agency, state="draft", title="旧名称的项目工程")
    run(services.update_draft, ctx, actor=agency.actor, tender_id=made.id,
        data=factories.tender_in(made.deadline_at, title="新名称的项目工程"))
    factories.publish(run, ctx, agency, made.id)
    assert run(queries.public_tenders, q="旧名称").total == 0
    assert _titles(run(queries.public_tenders, q="新名称的")) == {"新名称的项目工程"}


def test_quotes_and_wildcards_are_literal(run, published) -> None:
    assert run(queries.public_tenders, q='体育"馆').total == 0
    assert run(queries.public_tenders, q="%").total == 0
    assert run(queries.public_tenders, q="体育馆%").total == 0
