"""Portal search: any fragment of a title, code or tenderer, through the search indexes
(FTS5 trigram on SQLite, pg_trgm on PostgreSQL) and the LIKE fallback for short fragments."""

from __future__ import annotations

import factories
import pytest

from bidding import search, services
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


# Fragments of one or two characters: the gram tables (bidding.search, migration 0005).

def _like_ids(run, q: str, index: str = search.TENDER_INDEX) -> set[int]:
    from bidding.models import Notice, Tender

    async def read() -> set[int]:
        if index == search.NOTICE_INDEX:
            query = Notice.filter(search.matches(q, "title"))
        else:
            query = Tender.filter(search.matches(q, "title", "code", "tenderer_name"))
        return set(await query.values_list("id", flat=True))  # type: ignore[arg-type]

    return run(read)


def test_short_fragments_are_answered_by_the_gram_index(run, published) -> None:
    ids = run(search.indexed_ids, search.TENDER_INDEX, "医院")
    assert ids == [published[1].id]
    assert set(run(search.indexed_ids, search.TENDER_INDEX, "馆")) == {
        published[0].id, published[2].id}
    assert run(search.indexed_ids, search.TENDER_INDEX, "医馆") == []
    page = run(queries.public_tenders, q="医院")
    assert _titles(page) == {"县人民医院门诊楼建设"} and page.total == 1


def test_grams_find_what_like_finds(run, ctx, clock, published) -> None:
    agency = factories.make_agency(run, ctx, "agency2", "另一招标代理有限公司")
    made = factories.make_tender(run, ctx, clock, agency, state="published",
                                 title="Road 改造 ABC-x 工程")
    texts = [t.title for t in published] + [made.title, made.code, "城西水务"]
    fragments = {text[i:i + n] for text in texts for n in (1, 2) for i in range(len(text))}
    # Mixed case, a space inside, LIKE's wildcards, pairs in no text.
    fragments |= {"ro", "aD", "c-", "x工", " 改", "院门", "Z", "%", "_", "门院"}
    checked = 0
    for index in (search.TENDER_INDEX, search.NOTICE_INDEX):
        for q in sorted(fragments):
            if len(q.strip()) != len(q) or not q:
                continue  # the services strip a query: no fragment ends with a space
            try:
                found = set(run(search.indexed_ids, index, q))
            except search.TooMany:  # pragma: no cover - a handful of rows here
                raise AssertionError(q) from None
            assert found == _like_ids(run, q, index), (index, q)
            checked += bool(found)
    assert checked > 60  # most fragments are found: the comparison is not of empty sets


def test_grams_follow_edits_and_deletes(run, ctx, clock) -> None:
    from bidding.models import Tender

    agency = factories.make_agency(run, ctx)
    made = factories.make_tender(run, ctx, clock, agency, state="draft", title="旧名称的项目工程")
    run(services.update_draft, ctx, actor=agency.actor, tender_id=made.id,
        data=factories.tender_in(made.deadline_at, title="新名称的项目工程"))
    assert run(search.indexed_ids, search.TENDER_INDEX, "旧名") == []
    assert run(search.indexed_ids, search.TENDER_INDEX, "新名") == [made.id]

    async def delete() -> None:
        await Tender.filter(id=made.id).delete()

    run(delete)
    assert run(search.indexed_ids, search.TENDER_INDEX, "新名") == []


def test_notices_by_a_short_fragment(run, published) -> None:
    ids = run(search.indexed_ids, search.NOTICE_INDEX, "医院")
    assert ids  # the announcement of the hospital tender
    page = run(queries.notices, q="医院")
    assert {n.tender_id for n in page.items} == {published[1].id}


def test_too_many_matches_filter_instead(run, published, monkeypatch) -> None:
    monkeypatch.setattr(search, "MAX_INDEX_IDS", 1)
    with pytest.raises(search.TooMany):
        run(search.indexed_ids, search.TENDER_INDEX, "体育")
    assert run(queries.public_tenders, q="体育").total == 2
    assert {n.tender_id for n in run(queries.notices, q="体育").items} == {
        published[0].id, published[2].id}


def test_the_migration_indexes_rows_already_there(run, published) -> None:
    """Migration 0005 itself, run again on rows already there (its tables dropped first)."""
    import importlib
    from types import SimpleNamespace

    from tortoise import connections

    migration = importlib.import_module("bidding.migrations.0005_short_search")

    async def rebuild() -> None:
        conn = connections.get("default")
        for sql in search.gram_drop_statements(conn.capabilities.dialect):
            await conn.execute_script(sql)
        await migration.forward(None, SimpleNamespace(client=conn))

    run(rebuild)
    assert run(search.indexed_ids, search.TENDER_INDEX, "医院") == [published[1].id]
    assert run(search.indexed_ids, search.NOTICE_INDEX, "医院")
