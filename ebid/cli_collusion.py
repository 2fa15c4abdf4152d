"""``ebid collusion ...``: the collusion commands that run without a server.

    ebid collusion scan DIR [--json]
    ebid collusion evaluate --data FILE.csv --map tender=COL,bid=COL,label=COL[,...] [--json]

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
