"""``seal`` and ``manifest``: the bid's fields, the bill of quantities, the machine fingerprint,
and the sealed package (signing.sealed, docs/sealed-bid-format.md)."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from ebid.client.errors import Refused
from signing.fingerprint import fingerprint, manifest_form
from signing.sealed import BidFields, Item, KeyMode, Sealed, Signer, manifest_for, seal
from signing.sealed.errors import SealedBidRefused

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
# Accepted CSV headings: the English column names, and what Chinese bills of quantities print.
_COLUMNS = {
    "code": ("code", "编码", "项目编码", "编号"),
    "description": ("description", "名称", "项目名称", "描述"),
    "quantity": ("quantity", "数量", "工程量"),
    "unit_price": ("unit_price", "单价", "综合单价"),
}


@dataclass(frozen=True)
class Declared:
    """What the bidder types on the command line."""

    tender_id: int
    lot: int
    price: str
    items: tuple[Item, ...] = ()
    duration_days: int | None = None
    quality: str = ""
    project_manager: str = ""


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 (with or without a byte-order mark), else GB18030, as Chinese spreadsheets save."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Refused(f"{what} is neither UTF-8 nor GB18030 text",
                  f"{what} 既非 UTF-8 也非 GB18030 文本")


def read_items(path: Path) -> tuple[Item, ...]:
    """The bill of quantities from a CSV with the columns code, description, quantity,
    unit_price (a heading row first; Chinese headings such as 项目编码/项目名称/工程量/综合单价
    are understood too)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}",
                      f"无法读取 {path}：{error.strerror}") from error
    rows = list(csv.reader(io.StringIO(decode_text(data, str(path)))))
    if not rows:
        raise Refused(f"{path} is empty", f"{path} 为空")
    heading = [cell.strip().lower() for cell in rows[0]]
    where: dict[str, int] = {}
    for name, spellings in _COLUMNS.items():
        found = [i for i, cell in enumerate(heading) if cell in spellings]
        if not found:
            raise Refused(f"{path} has no {name} column (the first row must name the columns "
                          "code, description, quantity, unit_price)",
                          f"{path} 缺少 {name} 列（第一行须为列名 code, description, quantity, "
                          "unit_price）")
        where[name] = found[0]
    items = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for name, i in where.items()}
        for name in ("quantity", "unit_price"):
            cells[name] = cells[name].replace(",", "")
            if not _is_amount(cells[name]):
                raise Refused(f"{path} line {number}: {name} {cells[name]!r} is not a decimal "
                              "number, zero or more",
                              f"{path} 第 {number} 行：{name} {cells[name]!r} 不是非负十进制数")
        if not cells["code"]:
            raise Refused(f"{path} line {number}: the code is empty",
                          f"{path} 第 {number} 行：编码为空")
        items.append(Item(cells["code"], cells["description"], cells["quantity"],
                          cells["unit_price"]))
    return tuple(items)


def _is_amount(text: str) -> bool:
    """Plain digits with an optional fraction: no sign, no exponent (1e9999999 is a valid
    Decimal whose plain form would not fit in memory), at most 30 digits."""
    return _AMOUNT.fullmatch(text) is not None and len(text) <= 31


def check_price(text: str) -> str:
    if not _is_amount(text.replace(",", "")):
        raise Refused(f"the price {text!r} is not a decimal number, zero or more",
                      f"报价 {text!r} 不是非负十进制数")
    return text.replace(",", "")


def hashed_fingerprint(key: bytes, raw: dict[str, list[str]]) -> dict[str, str]:
    return manifest_form(fingerprint(key, raw))


def bid_fields(declared: Declared, fingerprint_map: dict[str, str]) -> BidFields:
    return BidFields(
        tender=str(declared.tender_id), lot=str(declared.lot), price=declared.price,
        items=declared.items, client_fingerprint=fingerprint_map,
        duration_days=declared.duration_days, quality=declared.quality,
        project_manager=declared.project_manager,
    )


@contextlib.contextmanager
def opened(paths: Sequence[Path]) -> Iterator[list[tuple[str, BinaryIO]]]:
    """The bid files, named by their base names, as the manifest lists them."""
    names = [path.name for path in paths]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise Refused(f"two files share the name {duplicates[0]!r}: a bid names files by their "
                      "base names", f"两个文件同名 {duplicates[0]!r}：投标文件按文件名区分")
    with contextlib.ExitStack() as stack:
        streams: list[tuple[str, BinaryIO]] = []
        for path in paths:
            try:
                streams.append((path.name, stack.enter_context(path.open("rb"))))
            except OSError as error:
                raise Refused(f"cannot read {path}: {error.strerror}",
                              f"无法读取 {path}：{error.strerror}") from error
        yield streams


def manifest(*, paths: Sequence[Path], bid: BidFields, certificate: x509.Certificate) -> bytes:
    """The exact manifest bytes ``seal`` will write for these files: what to sign elsewhere."""
    with opened(paths) as files:
        try:
            return manifest_for(files=files, bid=bid, certificate=certificate)
        except ValueError as error:
            raise Refused(str(error)) from error


def seal_to(*, out: Path, paths: Sequence[Path], bid: BidFields, signer: Signer,
            opening_public_key: x25519.X25519PublicKey,
            bidder_public_key: ec.EllipticCurvePublicKey | x25519.X25519PublicKey,
            mode: KeyMode, manifest_signature: bytes | None) -> Sealed:
    """Seal into a temporary file beside ``out`` and rename it at the end, so a failure never
    leaves a half-written package where a finished one is expected."""
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with opened(paths) as files, temporary.open("wb") as stream:
            sealed = seal(files=files, bid=bid, signer=signer,
                          opening_public_key=opening_public_key,
                          bidder_public_key=bidder_public_key, out=stream, mode=mode,
                          manifest_signature=manifest_signature)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, out)
    except SealedBidRefused as error:
        raise Refused(error.message("en"), error.message("zh-CN")) from error
    except ValueError as error:
        raise Refused(str(error)) from error
    finally:
        temporary.unlink(missing_ok=True)
    return sealed
