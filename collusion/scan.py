"""Run every detector over one tender and rank the groups: the engine behind ``ebid collusion
scan DIR`` (docs/collusion.md, "The offline scan"), usable on any ``TenderSnapshot``."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from collusion.base import EMPTY_HISTORY, Detector, Flag, History, TenderSnapshot
from collusion.detectors import all_detectors
from collusion.graph import Group, find_groups

__all__ = ["ScanResult", "report_json", "report_text", "run_scan", "scan", "scan_key"]

log = logging.getLogger("collusion.scan")
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ScanResult:
    flags: tuple[Flag, ...]  # strongest first
    groups: tuple[Group, ...]  # ranked
    failed: tuple[str, ...] = ()  # detectors that raised; their flags are missing
    detectors: tuple[Detector, ...] = ()


def scan(tender: TenderSnapshot, *, history: History = EMPTY_HISTORY,
         detectors: Sequence[Detector] | None = None) -> ScanResult:
    """Every detector's flags and the groups they make. A detector that raises is logged and
    named in ``failed``: one broken detector must not hide the others' evidence."""
    chosen = tuple(all_detectors() if detectors is None else detectors)
    flags: list[tuple[int, Flag]] = []
    failed: list[str] = []
    for order, detector in enumerate(chosen):
        started = time.perf_counter()
        try:
            found = detector.detect(tender, history)
        except Exception:
            log.exception("detector %s failed on %s", detector.name, tender.key)
            failed.append(detector.name)
            continue
        log.info("%s: %d flag(s) in %.2f s", detector.name, len(found),
                 time.perf_counter() - started)
        flags += [(order, flag) for flag in found]
    ranked = tuple(flag for _, flag in sorted(
        flags, key=lambda pair: (-pair[1].score, pair[0], pair[1].bidders)))
    return ScanResult(flags=ranked, groups=tuple(find_groups(ranked)), failed=tuple(failed),
                      detectors=chosen)


def report_json(result: ScanResult) -> dict[str, Any]:
    """The ``--json`` object exactly as the issue gives it: flags and groups, nothing else."""
    return {
        "flags": [{"detector": f.detector, "bidders": list(f.bidders),
                   "score": round(f.score, 4), "strength": f.strength,
                   "evidence": _plain(f.evidence)} for f in result.flags],
        "groups": [group.as_json() for group in result.groups],
    }


def report_text(result: ScanResult, tender: TenderSnapshot) -> str:
    """For a person: what was read, each flag with its evidence, then the ranked groups."""
    titles = {d.name: f"{d.title_zh} / {d.title_en}" for d in result.detectors}
    lines = [f"串标分析 / Collusion scan: {tender.title or tender.key}",
             f"投标 {len(tender.bids)} 份，招标文件 {len(tender.documents)} 个 / "
             f"{len(tender.bids)} bid(s), {len(tender.documents)} tender document(s)", ""]
    if not result.flags:
        lines.append("未发现超过阈值的迹象 / Nothing above the thresholds.")
    else:
        lines.append(f"迹象 / Flags ({len(result.flags)}):")
        for number, flag in enumerate(result.flags, start=1):
            strength = "强" if flag.strength == "strong" else "辅助"
            lines.append(f"{number:>3}. [{strength}/{flag.strength}] {flag.score:.2f}  "
                         f"{titles.get(flag.detector, flag.detector)}")
            lines.append(f"     投标人 / bidders: {', '.join(flag.bidders)}")
            if flag.summary:
                lines.append(f"     {flag.summary}")
            lines += [f"     {line}" for line in _evidence_lines(flag.evidence)]
    lines.append("")
    if result.groups:
        lines.append(f"可疑群组 / Groups, strongest first ({len(result.groups)}):")
        for number, group in enumerate(result.groups, start=1):
            detectors = sorted({f.detector for f in group.flags})
            lines.append(f"{number:>3}. {group.score:.2f}  {', '.join(group.bidders)}  "
                         f"({', '.join(detectors)})")
    else:
        lines.append("可疑群组 / Groups: 无 / none")
    if result.failed:
        lines += ["", f"失败的检测 / Detectors that failed: {', '.join(result.failed)} "
                      "(see the log on stderr)"]
    return "\n".join(lines) + "\n"


def scan_key() -> tuple[bytes, str]:
    """The key identifiers are hashed under: the platform's, when the configured data folder
    holds one (so hashes compare with the platform's), else the fixed public scan key. Never
    creates a key: a scan must not leave a key behind that the platform would later adopt."""
    from collusion.offline import SCAN_KEY
    from kernel.settings import from_env
    from signing.keys import FINGERPRINT_KEY_FILE

    path = from_env().key_dir / FINGERPRINT_KEY_FILE
    try:
        key = path.read_bytes()
    except OSError:
        return SCAN_KEY, "the fixed offline scan key"
    if len(key) != 32:
        log.warning("%s does not hold a 32-byte key; using the fixed offline scan key", path)
        return SCAN_KEY, "the fixed offline scan key"
    return key, f"the platform's fingerprint key ({path})"


def run_scan(folder: str | Path, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """The command: 0 when the scan ran (flagged or not), 1 when a detector failed, 2 when the
    folder is not in the format."""
    from collusion.offline import ScanFormatError, load_folder

    out = sys.stdout if out is None else out
    key, which = scan_key()
    try:
        tender = load_folder(folder, key=key)
    except ScanFormatError as error:
        print(f"ebid collusion scan: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder or file the scan may not read
        print(f"ebid collusion scan: {error.filename or folder}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 2
    log.info("read %s: %d bid(s), %d tender document(s); identifiers hashed under %s",
             folder, len(tender.bids), len(tender.documents), which)
    if tender.bids and not tender.documents:
        log.warning("%s has no tender documents in tender/: text every bid copied from them "
                    "(the bid letter's form, the technical requirements) will look like copying "
                    "between bids", folder)
    result = scan(tender)
    if as_json:
        json.dump(report_json(result), out, ensure_ascii=False, sort_keys=False)
        out.write("\n")
    else:
        out.write(report_text(result, tender))
    return 1 if result.failed else 0


def _plain(value: Any) -> Any:
    """Evidence as JSON: mappings to dicts, tuples to lists (detectors may hand out either)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _abbreviated(value: Any) -> Any:
    """Keyed hashes cut to their first 12 digits for reading; --json keeps them whole."""
    if isinstance(value, dict):
        return {k: _abbreviated(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_abbreviated(v) for v in value]
    if isinstance(value, str) and _HASH.fullmatch(value):
        return value[:12] + "…"
    return value


def _evidence_lines(evidence: Any, limit: int = 160) -> list[str]:
    lines = []
    for name, value in _abbreviated(_plain(evidence)).items():
        if name == "entities":
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                               default=str)
        lines.append(f"{name}: {text if len(text) <= limit else text[: limit - 1] + '…'}")
    return lines
