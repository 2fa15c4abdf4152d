"""The ``ebid`` command: serve, demo, db migrate, audit verify, worker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from ebid.cli_collusion import add_collusion_parser
from kernel.settings import Settings, demo_from_env, from_env
from signing.cli_log import add_verify_arguments


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from ebid.app import create_app

    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    else:  # each worker process builds the app from the environment itself
        uvicorn.run("ebid.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="info")


def _workers_refusal(settings: Settings, workers: int) -> str | None:
    """Why this installation cannot run ``workers`` server processes, or None."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    if not settings.database_url.startswith(("postgres://", "postgresql://")):
        return ("--workers above 1 needs PostgreSQL (EBID_DATABASE_URL=postgres://...): "
                "SQLite takes one writer at a time")
    if settings.job_backend != "procrastinate":
        return ("--workers above 1 needs EBID_JOB_BACKEND=procrastinate and `ebid worker`: "
                "the in-process scheduler would run once in every server process")
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = from_env()
    refusal = _workers_refusal(settings, args.workers)
    if refusal is not None:
        print(f"ebid serve: {refusal}", file=sys.stderr)
        return 2
    if args.migrate:
        from ebid.migrate import migrate

        asyncio.run(migrate(settings))
    _serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ebid.demo import build_demo
    from ebid.demo.pki import describe

    settings = demo_from_env()
    logins = asyncio.run(build_demo(settings, reset=args.reset))
    print("Demo data ready. Logins (username / password):")
    for role, username, password in logins:
        print(f"  {role:<11} {username:<16} {password}")
    address = f"http://{args.host}:{args.port}"
    # Listening on every address: the client on this machine reaches it on the loopback.
    wildcard = args.host in ("0.0.0.0", "::", "")  # noqa: S104 - a comparison, not a bind
    reach = f"http://127.0.0.1:{args.port}" if wildcard else address
    for line in describe(settings, None if reach == "http://127.0.0.1:8000" else reach):
        print(line)
    print(f"Serving on {address}/")
    _serve(settings, args.host, args.port)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ebid.migrate import migrate

    asyncio.run(migrate(from_env()))
    print("migrations applied")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ebid.audit import verify

    ok, lines = asyncio.run(verify(from_env()))
    for line in lines:
        print(line)
    return 0 if ok else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from ebid.audit import checkpoint

    print(asyncio.run(checkpoint(from_env())))
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    """Create the first centre admin; the password is read from the terminal or stdin."""
    import getpass

    from ebid.app import build_context
    from ebid.config import tortoise_config
    from kernel import db
    from kernel.accounts import services as accounts
    from kernel.errors import DomainError

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    settings = from_env()

    async def create() -> None:
        await db.init(tortoise_config(settings))
        try:
            await accounts.create_first_admin(
                build_context(settings), username=args.username, password=password.strip()
            )
        finally:
            await db.close()

    try:
        asyncio.run(create())
    except DomainError as exc:
        print(f"refused: {exc.message('en')}", file=sys.stderr)
        return 1
    print(f"admin {args.username} created")
    return 0


def cmd_log_verify(args: argparse.Namespace) -> int:
    from signing.cli_log import run_verify

    return run_verify(args)


def cmd_worker(args: argparse.Namespace) -> int:
    from ebid.worker import run_worker

    asyncio.run(run_worker(from_env()))
    return 0


def _pki_refused(exc: Exception) -> int:
    print(f"refused: {exc}", file=sys.stderr)
    return 1


def cmd_pki_init(args: argparse.Namespace) -> int:
    """Create the development CAs (never for production: their keys lie on disk)."""
    from pathlib import Path

    from kernel.clock import SystemClock
    from signing.pki import DevPKI

    try:
        pki = DevPKI.create(Path(args.dir), now=SystemClock().now())
    except OSError as exc:
        return _pki_refused(exc)
    for family in pki.families:
        for level in ("root", "intermediate"):
            authority = pki.authority(family, level)
            print(f"{authority.id:<17} {authority.certificate.subject.rfc4514_string()}")
    print(f"development CAs in {args.dir}: for tests and demos only, never for production")
    return 0


def cmd_pki_issue(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kernel.clock import SystemClock
    from signing.certificates import credit_code_of
    from signing.pki import DevPKI, serial_hex, write_pair

    try:
        pki = DevPKI(Path(args.dir))
        pair = pki.issue(
            kind=args.kind, name=args.name, now=SystemClock().now(), family=args.ca,
            credit_code=args.credit_code, organization=args.org, role=args.role,
        )
        paths = write_pair(pair, Path(args.output), password=args.password)
    except (OSError, ValueError) as exc:
        return _pki_refused(exc)
    for half, path in zip((pair.signing, pair.encryption), paths, strict=True):
        print(f"{path}  serial {serial_hex(half.certificate.serial_number)}")
    code = credit_code_of(pair.signing.certificate)
    if code:
        print(f"credit code {code}")
    return 0


def cmd_pki_revoke(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cryptography import x509

    from kernel.clock import SystemClock
    from signing.pki import DevPKI, parse_serial

    try:
        reason = x509.ReasonFlags(args.reason)
        pki = DevPKI(Path(args.dir))
        issuer = pki.revoke(parse_serial(args.serial), now=SystemClock().now(), reason=reason)
    except (OSError, LookupError, ValueError) as exc:
        return _pki_refused(exc)
    family = issuer.split("/")[0]
    print(f"revoked {args.serial} ({reason.value}) by {issuer}; "
          f"publish it with: ebid pki crl {args.dir} --ca {family}")
    return 0


def cmd_pki_crl(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kernel.clock import SystemClock
    from signing.pki import DevPKI

    try:
        pki = DevPKI(Path(args.dir))
        now = SystemClock().now()
        for family in [args.ca] if args.ca else pki.families:
            for path in pki.publish_crls(family, now=now):
                print(path)
    except (OSError, ValueError) as exc:
        return _pki_refused(exc)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ebid", description="Public-resource e-bidding platform")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes (above 1: PostgreSQL and the procrastinate job "
                            "backend; one per core takes a deadline rush best, bench/RESULTS.md)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="fill a database with demo data and serve it")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--reset", action="store_true", help="start from an empty database")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply migrations").set_defaults(func=cmd_migrate)

    audit = sub.add_parser("audit", help="audit trail commands")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain and checkpoints").set_defaults(
        func=cmd_audit_verify
    )
    audit_sub.add_parser("checkpoint", help="write a signed checkpoint now").set_defaults(
        func=cmd_audit_checkpoint
    )

    admin = sub.add_parser("admin", help="account commands")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create the first centre admin")
    create.add_argument("username")
    create.set_defaults(func=cmd_admin_create)

    log = sub.add_parser("log", help="receipts log commands")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    add_verify_arguments(
        log_sub.add_parser("verify", help="check a receipt, signed heads and proofs offline")
    ).set_defaults(func=cmd_log_verify)

    worker = sub.add_parser("worker", help="run background jobs (PostgreSQL job queue)")
    worker.set_defaults(func=cmd_worker)

    pki = sub.add_parser("pki", help="development CAs for tests and demos (never production)")
    pki_sub = pki.add_subparsers(dest="pki_command", required=True)
    pki_init = pki_sub.add_parser("init", help="create RSA and EC test CAs in DIR")
    pki_init.add_argument("dir", metavar="DIR")
    pki_init.set_defaults(func=cmd_pki_init)
    pki_issue = pki_sub.add_parser(
        "issue", help="issue a signing + encryption certificate pair as PKCS#12 files"
    )
    pki_issue.add_argument("dir", metavar="DIR")
    pki_issue.add_argument("--kind", required=True, choices=("company", "expert", "officer"))
    pki_issue.add_argument("--name", required=True, help="the holder's name (subject CN)")
    pki_issue.add_argument("--credit-code", help="company's credit code (default: made up)")
    pki_issue.add_argument("--org", help="subject O (default: by kind and role)")
    pki_issue.add_argument("--role", choices=("agency", "supervisor", "centre"),
                           help="an officer's role, in the subject OU (default: centre)")
    pki_issue.add_argument("--ca", choices=("rsa", "ec"), default="rsa")
    pki_issue.add_argument("-o", "--output", required=True, metavar="OUT.p12",
                           help="signing half; the encryption half goes to OUT.enc.p12")
    pki_issue.add_argument("--password", required=True, help="PKCS#12 password")
    pki_issue.set_defaults(func=cmd_pki_issue)
    pki_revoke = pki_sub.add_parser("revoke", help="revoke a certificate (then run pki crl)")
    pki_revoke.add_argument("dir", metavar="DIR")
    pki_revoke.add_argument("--serial", required=True, metavar="HEX")
    pki_revoke.add_argument("--reason", default="keyCompromise",
                            help="RFC 5280 reason: keyCompromise, cACompromise, "
                                 "affiliationChanged, superseded, cessationOfOperation, "
                                 "certificateHold, privilegeWithdrawn, unspecified")
    pki_revoke.set_defaults(func=cmd_pki_revoke)
    pki_crl = pki_sub.add_parser("crl", help="publish the CAs' CRLs (DER and PEM)")
    pki_crl.add_argument("dir", metavar="DIR")
    pki_crl.add_argument("--ca", choices=("rsa", "ec"), help="only this family (default: all)")
    pki_crl.set_defaults(func=cmd_pki_crl)

    add_collusion_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
