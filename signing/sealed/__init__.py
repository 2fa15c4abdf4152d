"""Sealed bids: signed, encrypted in segments, wrapped to two keys (docs/sealed-bid-format.md).

A pure library: no database, no clock, no I/O beyond the streams it is given.
"""

from signing.sealed.cms import VerifiedSignature, sign_detached, verify_detached
from signing.sealed.format import DEFAULT_SEGMENT_SIZE, KeyMode, Recipient, SealedHeader, Wrap
from signing.sealed.manifest import BidFields, FileDigest, Item, Manifest, manifest_for
from signing.sealed.open import (
    InspectedPackage,
    OpenedBid,
    OpenedFile,
    inspect,
    open_sealed,
    read_header,
    unwrap_data_key,
    unwrap_share,
)
from signing.sealed.seal import Sealed, Signer, seal

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "BidFields",
    "FileDigest",
    "InspectedPackage",
    "Item",
    "KeyMode",
    "Manifest",
    "OpenedBid",
    "OpenedFile",
    "Recipient",
    "Sealed",
    "SealedHeader",
    "Signer",
    "VerifiedSignature",
    "Wrap",
    "inspect",
    "manifest_for",
    "open_sealed",
    "read_header",
    "seal",
    "sign_detached",
    "unwrap_data_key",
    "unwrap_share",
    "verify_detached",
]
