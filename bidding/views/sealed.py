"""The bidder's sealed bid in the browser: upload a package sealed by ebid-client, see the
receipt, download the receipt (.p7m) and the package as received."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bidding import forms, services
from bidding.exceptions import InvalidInput
from kernel.http import actor_of, form_of
from signing import intake
from signing.cms import verify_attached
from signing.receipts import Receipt

TEMPLATE = "bidding/bid-receipt.html"


def _id(request: Request, key: str = "tender_id") -> int:
    return forms.path_id(request, key)


def receipt_fields(der: bytes) -> dict[str, Any]:
    content, _ = verify_attached(der, what="receipt")
    return Receipt.from_json(content).to_dict()


async def submit(request: Request) -> Response:
    ctx = request.app.state.ctx
    form = await form_of(request)
    # The body has been read whole: this is when its last byte arrived.
    received_at = ctx.clock.now()
    upload = form.get("package")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("package", "choose the .sealed file made by ebid-client",
                           "请选择由 ebid-client 生成的 .sealed 密封投标文件")
    lot = forms.int_field(form, "lot", "标段")

    async def chunks() -> Any:
        while chunk := await upload.read(1 << 20):
            yield chunk

    received = await intake.receive(chunks(), directory=ctx.settings.data_dir / "incoming",
                                    max_bytes=ctx.settings.max_bid_bytes, clock=ctx.clock)
    try:
        bid, der, created = await services.submit_sealed_bid(
            ctx, actor=actor_of(request), tender_id=_id(request), lot_number=lot,
            package_path=received.path, received_at=received_at,
            remote_addr=request.client.host if request.client else "",
        )
    finally:
        await anyio.to_thread.run_sync(received.path.unlink, True)
    await bid.fetch_related("tender")
    return request.app.state.templates.TemplateResponse(request, TEMPLATE, {
        "tender_id": _id(request), "tender": bid.tender, "bid": bid, "created": created,
        "fields": receipt_fields(der),
    }, status_code=201 if created else 200)


async def show_receipt(request: Request) -> Response:
    bid = await services.sealed_bid_for_owner(
        request.app.state.ctx, actor=actor_of(request), tender_id=_id(request),
        bid_id=_id(request, "bid_id"))
    await bid.fetch_related("tender")
    return request.app.state.templates.TemplateResponse(request, TEMPLATE, {
        "tender_id": _id(request), "tender": bid.tender, "bid": bid, "created": False,
        "fields": receipt_fields(bytes(bid.receipt or b"")),
    })


async def receipt_file(request: Request) -> Response:
    bid = await services.sealed_bid_for_owner(
        request.app.state.ctx, actor=actor_of(request), tender_id=_id(request),
        bid_id=_id(request, "bid_id"))
    return Response(bytes(bid.receipt or b""), media_type="application/pkcs7-mime",
                    headers={"content-disposition":
                             f'attachment; filename="receipt-{bid.id}.p7m"'})


async def package_file(request: Request) -> Response:
    ctx = request.app.state.ctx
    bid = await services.sealed_bid_for_owner(
        ctx, actor=actor_of(request), tender_id=_id(request), bid_id=_id(request, "bid_id"))
    return FileResponse(ctx.blobs.path_for(bid.sha256), filename=bid.filename,
                        media_type="application/octet-stream")
