"""GET /api/v1/keys: what a verifier pins, and that it is what the platform signs with."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from signing import keys as platform_keys
from signing import log
from signing.tree_head import SignedTreeHead, verify_tree_head


def test_the_published_keys_verify_heads_and_name_the_receipt_signer(
    client: Any, run: Any, ctx: Any
) -> None:
    head = run(log.publish_head, ctx, reason="periodic")
    answer = client.get("/api/v1/keys")
    assert answer.status_code == 200
    body = answer.json()
    log_key = load_pem_public_key(body["log_public_key"].encode())
    assert verify_tree_head(SignedTreeHead.from_dict(head.signature),
                            log_key)  # type: ignore[arg-type]
    keys = platform_keys.load(ctx.settings, now=ctx.clock.now())
    published = x509.load_pem_x509_certificate(body["receipt_certificate"].encode())
    assert published == keys.receipt.certificate
    assert body["log_key_id"] == SignedTreeHead.from_dict(head.signature).key_id.hex()
    # Public, with no session: anyone may verify.
    assert "set-cookie" not in {k.lower() for k in answer.headers}
