"""The centre admin's page of accepted CAs and their CRLs; the certificate login link."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from kernel.context import Context
from kernel.errors import DomainError, InvalidInput
from kernel.http import SESSION_COOKIE, actor_of, form_of, locale_of, redirect
from signing import accounts, login, trust

TEMPLATE = "signing/admin-cas.html"
ACTIONS = ("add_ca", "upload_crl", "deactivate", "set_crl_url")


def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def _page(request: Request, status_code: int = 200, **extra: Any) -> Response:
    context = {"cas": await trust.list_cas(_ctx(request)), "error": "", "action": "",
               "done": request.query_params.get("done", ""), **extra}
    templates = request.app.state.templates
    return templates.TemplateResponse(request, TEMPLATE, context, status_code=status_code)


async def _file(form: FormData, name: str) -> bytes:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput(name, "choose a file to upload", "请选择要上传的文件")
    return await upload.read()


def _ca_id(form: FormData) -> int:
    ca_id = str(form.get("ca_id", ""))
    if not ca_id.isdigit():
        raise InvalidInput("ca_id", "not a number", "应为数字")
    return int(ca_id)


async def admin_cas(request: Request) -> Response:
    if request.method == "GET":
        return await _page(request)
    form = await form_of(request)
    action = str(form.get("action", ""))
    ctx, actor = _ctx(request), actor_of(request)
    try:
        if action == "add_ca":
            await trust.add_ca(ctx, actor=actor, pem_or_der=await _file(form, "certificate"),
                               crl_url=str(form.get("crl_url", "")))
        elif action == "upload_crl":
            await trust.upload_crl(ctx, actor=actor, data=await _file(form, "crl"))
        elif action == "deactivate":
            await trust.deactivate_ca(ctx, actor=actor, ca_id=_ca_id(form))
        elif action == "set_crl_url":
            await trust.set_crl_url(ctx, actor=actor, ca_id=_ca_id(form),
                                    crl_url=str(form.get("crl_url", "")))
        else:
            raise InvalidInput("action", f"must be one of {', '.join(ACTIONS)}",
                               f"应为 {'、'.join(ACTIONS)} 之一")
    except DomainError as exc:
        return await _page(request, error=exc.message(locale_of(request)), action=action,
                           status_code=exc.status_code)
    return redirect(f"/admin/cas?done={action}")


# No ": " in this docstring: Starlette reads endpoint docstrings as YAML for OpenAPI, and a
# mapping there would list this page among the API's paths.
async def login_link(request: Request) -> Response:
    """The one-time link ebid-client opens gives the browser a session, as the login form does."""
    ctx = _ctx(request)
    try:
        token = await login.use_login_link(
            ctx, secret=request.path_params["secret"],
            remote_addr=request.client.host if request.client else "",
        )
    except DomainError as exc:
        templates = request.app.state.templates
        return templates.TemplateResponse(
            request, "signing/login-link.html", {"error": exc.message(locale_of(request))},
            status_code=exc.status_code, headers={"Cache-Control": "no-store"},
        )
    settings = ctx.settings
    response = redirect("/workspace")
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_max_age_seconds, path="/",
        httponly=True, samesite="lax", secure=settings.secure_cookies,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# -- 我的证书: every user's own certificates (signing.accounts) --------------------------------

CERTIFICATES_TEMPLATE = "signing/certificates.html"


async def _certificates_page(request: Request, status_code: int = 200, **extra: Any) -> Response:
    actor = actor_of(request)
    context = {"certificates": await accounts.list_certificates(actor.user_id or 0),
               "error": "", "done": request.query_params.get("done", ""), **extra}
    templates = request.app.state.templates
    return templates.TemplateResponse(request, CERTIFICATES_TEMPLATE, context,
                                      status_code=status_code)


async def my_certificates(request: Request) -> Response:
    """List one's certificates; register an encryption certificate, or deactivate one."""
    if request.method == "GET":
        return await _certificates_page(request)
    form = await form_of(request)
    action = str(form.get("op", ""))
    ctx, actor = _ctx(request), actor_of(request)
    try:
        if action == "register":
            await accounts.register_certificate(ctx, actor=actor,
                                                der=await _file(form, "certificate"))
        elif action == "deactivate":
            certificate_id = str(form.get("certificate_id", ""))
            if not certificate_id.isdigit():
                raise InvalidInput("certificate_id", "not a number", "应为数字")
            await accounts.deactivate(ctx, actor=actor, certificate_id=int(certificate_id))
        else:
            raise InvalidInput("op", "must be register or deactivate",
                               "应为 register 或 deactivate")
    except DomainError as exc:
        return await _certificates_page(request, error=exc.message(locale_of(request)),
                                        status_code=exc.status_code)
    return redirect(f"/account/certificates?done={action}")
