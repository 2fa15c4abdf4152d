"""A tender's files as the text detectors read them: extracted, normalised, by bid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from collusion.base import Document, TenderSnapshot
from collusion.text.extract import Extracted, FileMeta, extract
from collusion.text.normalise import Normalised, normalise

TENDER = -1  # the ``bid`` of the tender's own documents


@dataclass(frozen=True)
class TextDoc:
    bid: int  # index into tender.bids, or TENDER
    name: str
    text: str
    norm: Normalised
    meta: FileMeta


def _doc(bid: int, document: Document) -> TextDoc:
    found: Extracted = extract(document)
    return TextDoc(bid, document.name, found.text, normalise(found.text), found.meta)


def tender_docs(tender: TenderSnapshot) -> list[TextDoc]:
    return [_doc(TENDER, document) for document in tender.documents]


def bid_docs(tender: TenderSnapshot) -> list[TextDoc]:
    """Every file of every bid, in bid order."""
    return [_doc(index, document) for index, bid in enumerate(tender.bids)
            for document in bid.files]


@cache
def boilerplate() -> tuple[str, ...]:
    """The built-in list of phrases every bid may carry (collusion/text/boilerplate.txt)."""
    text = resources.files("collusion.text").joinpath("boilerplate.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines()
                 if line.strip() and not line.startswith("#"))
