"""``ebid collusion ...``: the collusion commands that run without a server.

    ebid collusion scan DIR [--json]
    ebid collusion evaluate --data FILE.csv --map tender=COL,bid=COL,label=COL[,...] [--json]
    ebid collusion analyse [TENDER_ID ...]     (this platform's database)

The work happens in the collusion package; this module only wires its commands into the ``ebid``
parser, and imports them when they run, so other ``ebid`` commands do not pay for networkx and
the text and price libraries.
"""

from __future__ import annotations

import argparse


def cmd_scan(args: argparse.Namespace) -> int:
    from collusion.scan import run_scan

    return run_scan(args.dir, as_json=args.json)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from collusion.evaluate import run_evaluate

    return run_evaluate(args.data, args.map, as_json=args.json)


def cmd_analyse(args: argparse.Namespace) -> int:
    """Analyse opened tenders of this platform now: the given ones, or every one without an
    analysis (tenders opened before collusion was on). Exit 1 when an analysis failed."""
    import asyncio

    from collusion import services
    from ebid.app import build_context
    from ebid.config import tortoise_config
    from kernel import db
    from kernel.settings import from_env

    settings = from_env()

    async def analyse() -> int:
        await db.init(tortoise_config(settings))
        try:
            found = await services.analyse_tenders(
                build_context(settings), tender_ids=args.tender or None)
        finally:
            await db.close()
        failed = 0
        for tender_id, analysis in found:
            if analysis is None:
                print(f"tender {tender_id}: not opened, nothing to analyse")
                continue
            failed += analysis.status.value == "failed"
            flags = analysis.facts.get("flags", "")
            print(f"tender {tender_id}: analysis {analysis.id} {analysis.status.value}"
                  + (f", {flags} flags" if flags != "" else "")
                  + (f" ({analysis.error})" if analysis.error else ""))
        if not found:
            print("every opened tender has an analysis")
        return 1 if failed else 0

    return asyncio.run(analyse())


def add_collusion_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``collusion`` and its subcommands to the top-level ``ebid`` subparsers."""
    collusion = sub.add_parser("collusion",
                               help="collusion analysis of tenders (docs/collusion.md)")
    collusion_sub = collusion.add_subparsers(dest="collusion_command", required=True)

    scan = collusion_sub.add_parser(
        "scan", help="analyse a tender folder run elsewhere (format: docs/collusion.md)",
        description="Analyse DIR (tender/, tender.json, bids/<bidder>/...): prints the flags and "
                    "the ranked groups; exit status 0 whether or not anything is flagged, 1 when "
                    "a detector failed, 2 when DIR is not in the format.",
    )
    scan.add_argument("dir", metavar="DIR")
    scan.add_argument("--json", action="store_true",
                      help='print one JSON object {"flags": [...], "groups": [...]} on stdout')
    scan.set_defaults(func=cmd_scan)

    evaluate = collusion_sub.add_parser(
        "evaluate", help="cross-validate the price detector on labelled tenders (a CSV)",
        description="5-fold cross-validation stratified and grouped by tender, repeated 5 times, "
                    "of the price screens and classifier on a bid-per-row CSV; a tender is rigged "
                    "when any of its rows is labelled 1. Only the mapped columns are read.",
    )
    evaluate.add_argument("--data", required=True, metavar="FILE.csv")
    evaluate.add_argument("--map", required=True, metavar="ROLE=COL,...",
                          help="tender=COL,bid=COL,label=COL[,bidder=COL,winner=COL,"
                               "estimate=COL]")
    evaluate.add_argument("--json", action="store_true",
                          help='print {"accuracy", "balanced_accuracy", "roc_auc", "n_tenders"}')
    evaluate.set_defaults(func=cmd_evaluate)

    analyse = collusion_sub.add_parser(
        "analyse", help="analyse opened tenders of this platform now (EBID_DATABASE_URL)",
        description="Run every detector on the given opened tenders (again, after a detector "
                    "changed), or on every opened tender that has no analysis yet; the results, "
                    "the red mark and the case are stored as after an opening.",
    )
    analyse.add_argument("tender", nargs="*", type=int, metavar="TENDER_ID")
    analyse.set_defaults(func=cmd_analyse)
