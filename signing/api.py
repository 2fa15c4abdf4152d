"""The receipts log's public JSON API: signed heads and proofs (docs/receipts.md).

Open to everyone (``security: []``): heads and proofs are hashes and signatures, nothing more.
No route serves an entry's contents or its tender: the log must not tell how many receipts a
tender has (docs/transparency-log.md). Bytes are standard base64 with padding, as in the heads.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kernel.context import Context
from kernel.errors import InvalidInput
from kernel.http import PUBLIC, api
from signing import keys as platform_keys
from signing import log
from signing.models import SignedHead
from signing.tree_head import key_id

__all__ = ["api_routes"]

_MAX = 2**63 - 1


def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def _int(request: Request, name: str, default: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        if default is None:
            raise InvalidInput(name, "is required", "必填")
        return default
    if not text.isascii() or not text.isdigit() or int(text) > _MAX:
        raise InvalidInput(name, "must be a whole number from 0 to 2^63 - 1",
                           "须为 0 到 2^63 - 1 之间的整数")
    return int(text)


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(value).decode("ascii") for value in values]


def _item(row: SignedHead) -> dict[str, Any]:
    return {"reason": row.reason.value, "head": row.signature}


async def head_latest(request: Request) -> Response:
    """
    ---
    summary: The latest signed tree head of the receipts log
    description: >
      Exactly the signed head's JSON form (docs/transparency-log.md), so it can be saved and
      given to `ebid log verify --head`. Heads are published regularly and at every tender's
      deadline and opening.
    tags: [log]
    security: []
    responses:
      200:
        description: >
          {tree_size, timestamp (ms since the epoch), sha256_root_hash, signature_algorithm,
          key_id, signature}; bytes in base64.
      404: {description: "no_signed_head: the log has published no head yet"}
    """
    row = await log.latest_head(_ctx(request))
    if row is None:
        raise log.NoSignedHead()
    return JSONResponse(row.signature)


async def head_list(request: Request) -> Response:
    """
    ---
    summary: The latest signed tree heads, newest first
    tags: [log]
    security: []
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 20}}
    responses:
      200:
        description: >
          {items: [{reason: periodic | deadline | opening, head: signed tree head}]}
      400: {description: "invalid_input: limit is not a number from 1 to 1000"}
    """
    rows = await log.heads(_ctx(request), limit=_int(request, "limit", 20))
    return JSONResponse({"items": [_item(row) for row in rows]})


async def proof_inclusion(request: Request) -> Response:
    """
    ---
    summary: The inclusion proof (audit path) of a log entry
    description: >
      The entry is named by its index, as the receipt gives it; the tree size is that of a
      signed head, at most the latest one. Check with the head's root and the leaf hash
      SHA-256(0x00 || SHA-256(receipt DER)), by RFC 9162 section 2.1.3.2.
    tags: [log]
    security: []
    parameters:
      - {name: index, in: query, required: true, schema: {type: integer, minimum: 0}}
      - {name: tree_size, in: query, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: "{leaf_index, tree_size, audit_path: [base64 hash, leaf end first]}"}
      400: {description: "invalid_input: index or tree_size missing, malformed or out of range"}
      404: {description: "no_signed_head: the log has published no head yet"}
    """
    index = _int(request, "index")
    tree_size = _int(request, "tree_size")
    path = await log.inclusion(_ctx(request), index=index, tree_size=tree_size)
    return JSONResponse({"leaf_index": index, "tree_size": tree_size, "audit_path": _b64(path)})


async def proof_consistency(request: Request) -> Response:
    """
    ---
    summary: The consistency proof between two tree sizes
    description: >
      Shows that the tree of `first` entries is a prefix of the tree of `second` entries
      (RFC 9162 section 2.1.4); `second` is at most the latest signed head's size.
    tags: [log]
    security: []
    parameters:
      - {name: first, in: query, required: true, schema: {type: integer, minimum: 0}}
      - {name: second, in: query, required: true, schema: {type: integer, minimum: 0}}
    responses:
      200: {description: "{first, second, consistency: [base64 hash]}"}
      400: {description: "invalid_input: first or second missing, malformed or out of range"}
      404: {description: "no_signed_head: the log has published no head yet"}
    """
    first = _int(request, "first")
    second = _int(request, "second")
    proof = await log.consistency(_ctx(request), old_size=first, new_size=second)
    return JSONResponse({"first": first, "second": second, "consistency": _b64(proof)})


async def public_keys(request: Request) -> Response:
    """
    ---
    summary: The keys a verifier needs, published
    description: >
      The certificate (and its chain) that signs receipts and opening records, and the Ed25519
      public key that signs the log's tree heads, as PEM, with the head key's id (SHA-256 of
      its SubjectPublicKeyInfo, as heads name it). Verifiers should pin them on first use and
      compare on later runs: a change is worth asking the centre about.
    tags: [log]
    security: []
    responses:
      200: {description: "{receipt_certificate, receipt_chain: [PEM], log_public_key, log_key_id}"}
    """
    ctx = _ctx(request)
    keys = platform_keys.load(ctx.settings, now=ctx.clock.now())
    pem = serialization.Encoding.PEM
    return JSONResponse({
        "receipt_certificate": keys.receipt.certificate.public_bytes(pem).decode("ascii"),
        "receipt_chain": [c.public_bytes(pem).decode("ascii") for c in keys.receipt.chain],
        "log_public_key": platform_keys.public_pem(keys.log).decode("ascii"),
        "log_key_id": key_id(keys.log.public_key()).hex(),
    })


api_routes: list[Route] = [
    api("/api/v1/keys", public_keys, name="signing:api-keys", roles=PUBLIC),
    api("/api/v1/log/heads/latest", head_latest, name="signing:api-log-head-latest",
        roles=PUBLIC),
    api("/api/v1/log/heads", head_list, name="signing:api-log-heads", roles=PUBLIC),
    api("/api/v1/log/proof/inclusion", proof_inclusion, name="signing:api-log-inclusion",
        roles=PUBLIC),
    api("/api/v1/log/proof/consistency", proof_consistency, name="signing:api-log-consistency",
        roles=PUBLIC),
]
