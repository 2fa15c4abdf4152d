"""The tender's opening key: shared 2-of-3 among the officers, rebuilt only from their shares,
and able to open a bid sealed to it.

Officers' and the bidder's certificates come from a development PKI made once per module.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

from signing.opening_key import (
    MalformedSetup,
    OfficerRecipient,
    OpeningKeyMismatch,
    OpeningKeySetup,
    ShareForAnotherTender,
    WrongOfficerKey,
    decrypt_share,
    generate_opening_key,
    recover_private_key,
    verify_share,
)
from signing.pki import OFFICER_ROLES, DevPKI, IssuedPair
from signing.sealed import BidFields, Signer, open_sealed, read_header, seal, unwrap_data_key
from signing.sealed import unwrap_share as unwrap_sealed_share
from signing.sealed.errors import UnsupportedAlgorithm
from signing.shamir import (
    InconsistentShares,
    Share,
    SharesDoNotCombine,
    TamperedShare,
    TooFewShares,
    commitment,
)

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
TENDER = "T-2026-001"
FILES = {"技术标.pdf": b"%PDF technical offer" * 100, "报价.csv": "编码,单价\n01,9.5\n".encode()}
BID = BidFields(tender=TENDER, lot=None, price="9876543.21")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW, families=("ec",))


@pytest.fixture(scope="module")
def officers(pki: DevPKI) -> dict[str, IssuedPair]:
    return {role: pki.issue(kind="officer", name=f"{role} officer", role=role, now=NOW,
                            family="ec")
            for role in OFFICER_ROLES}


@pytest.fixture(scope="module")
def bidder(pki: DevPKI) -> IssuedPair:
    return pki.issue(kind="company", name="华东建设有限公司", now=NOW, family="ec")


def recipients(officers: dict[str, IssuedPair]) -> list[OfficerRecipient]:
    return [OfficerRecipient(name=f"{role} officer", role=role,  # type: ignore[arg-type]
                             encryption_public_key=pair.encryption.certificate)
            for role, pair in officers.items()]


@pytest.fixture(scope="module")
def setup(officers: dict[str, IssuedPair]) -> OpeningKeySetup:
    return generate_opening_key(officers=recipients(officers), tender_id=TENDER, now=NOW)


def shares_of(setup: OpeningKeySetup, officers: dict[str, IssuedPair],
              roles: tuple[str, ...], tender: str = TENDER) -> list[Share]:
    """What each officer decrypts on its own machine and submits after the deadline."""
    return [decrypt_share(setup.share_for(f"{role} officer"), officers[role].encryption.key,
                          tender) for role in roles]


def seal_to(setup: OpeningKeySetup, bidder: IssuedPair, mode: str = "either") -> bytes:
    out = io.BytesIO()
    seal(files=[(name, io.BytesIO(data)) for name, data in FILES.items()], bid=BID,
         signer=Signer(bidder.signing.key, bidder.signing.certificate, bidder.chain),
         opening_public_key=setup.public_key,
         bidder_public_key=bidder.encryption.certificate, out=out, mode=mode,  # type: ignore[arg-type]
         segment_size=1024)
    return out.getvalue()


def opened_files(package: bytes, data_key: bytes) -> dict[str, bytes]:
    seen: dict[str, io.BytesIO] = {}

    def collect(name: str) -> io.BytesIO:
        seen[name] = io.BytesIO()
        seen[name].close = lambda: None  # type: ignore[method-assign]
        return seen[name]

    open_sealed(io.BytesIO(package), data_key, open_file=collect)
    return {name: stream.getvalue() for name, stream in seen.items()}


# --- the default: 2 of 3 ------------------------------------------------------------------


def test_the_default_is_two_of_the_three_officers(setup: OpeningKeySetup) -> None:
    assert (setup.threshold, setup.n) == (2, 3)
    assert [(s.index, s.role, s.officer) for s in setup.shares] == [
        (1, "agency", "agency officer"), (2, "supervisor", "supervisor officer"),
        (3, "centre", "centre officer"),
    ]
    assert all(s.alg == "hpke-p256-hkdf-sha256-aes256gcm" for s in setup.shares)
    assert len(set(setup.commitments.values())) == 3


@pytest.mark.parametrize("size", [2, 3])
def test_any_two_officers_rebuild_the_published_key(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair], size: int,
) -> None:
    for roles in itertools.combinations(OFFICER_ROLES, size):
        key = recover_private_key(shares_of(setup, officers, roles), setup)
        assert key.public_key() == setup.public_key


def test_one_officer_alone_cannot(setup: OpeningKeySetup,
                                  officers: dict[str, IssuedPair]) -> None:
    for role in OFFICER_ROLES:
        with pytest.raises(TooFewShares) as refused:
            recover_private_key(shares_of(setup, officers, (role,)), setup)
        assert refused.value.params == {"needed": 2, "given": 1}


@pytest.mark.parametrize("mode", ["either", "both"])
def test_the_recovered_key_opens_a_bid_sealed_to_the_public_key(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair], bidder: IssuedPair, mode: str,
) -> None:
    # Sealed to the key as published: read back from the stored JSON, as a bidder would.
    published = OpeningKeySetup.from_json(setup.to_json())
    package = seal_to(published, bidder, mode)
    header = read_header(io.BytesIO(package))
    assert header.wrap("opening").key_id == setup.key_id
    opening_key = recover_private_key(shares_of(setup, officers, ("agency", "centre")),
                                      published)
    if mode == "either":
        data_key = unwrap_data_key(header, opening_key, "opening")
    else:  # the officers' key alone is not enough: the bidder's share is needed too
        bidder_share = unwrap_sealed_share(header, bidder.encryption.key, "bidder")
        data_key = unwrap_data_key(header, opening_key, "opening", other_share=bidder_share)
    assert opened_files(package, data_key) == FILES


def test_officer_keys_may_be_x25519_and_thresholds_larger(pki: DevPKI) -> None:
    keys = [x25519.X25519PrivateKey.generate() for _ in range(3)] + [
        ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    roles = ["agency", "supervisor", "centre", "centre", "centre"]
    five = [OfficerRecipient(name=f"officer {i}", role=role,  # type: ignore[arg-type]
                             encryption_public_key=key.public_key())
            for i, (role, key) in enumerate(zip(roles, keys, strict=True))]
    setup = generate_opening_key(officers=five, k=3, tender_id="T-9", now=NOW)
    shares = [decrypt_share(setup.shares[i], keys[i], "T-9") for i in range(5)]
    for subset in itertools.combinations(shares, 3):
        assert recover_private_key(subset, setup).public_key() == setup.public_key
    with pytest.raises(TooFewShares):
        recover_private_key(shares[:2], setup)


# --- the public setup -----------------------------------------------------------------------


def test_the_setup_round_trips_through_json_and_holds_no_private_key(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    text = setup.to_json()
    data = json.loads(text)
    assert data["format"] == "ebid-opening-key"
    assert (data["threshold"], len(data["shares"])) == (2, 3)
    assert data["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert data["created_at"].endswith("Z")
    assert OpeningKeySetup.from_json(text) == setup
    assert OpeningKeySetup.from_json(text.encode()).to_json() == text

    private = recover_private_key(shares_of(setup, officers, ("agency", "supervisor")), setup)
    raw = private.private_bytes_raw()
    for form in (raw.hex(), base64.b64encode(raw).decode(), base64.b64encode(raw[:24]).decode()):
        assert form not in text
        assert form not in repr(setup)


def test_created_at_keeps_its_instant_in_any_zone(officers: dict[str, IssuedPair]) -> None:
    beijing = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    setup = generate_opening_key(officers=recipients(officers), tender_id="T-2", now=beijing)
    data = json.loads(setup.to_json())
    assert data["created_at"] == "2026-03-02T01:00:00Z"
    assert OpeningKeySetup.from_json(setup.to_json()).created_at == beijing


def _edited(setup: OpeningKeySetup, **changes: object) -> str:
    data = json.loads(setup.to_json())
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return json.dumps(data)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"format": "other"}, "not an ebid-opening-key"),
    ({"version": 2}, "unsupported version"),
    ({"algorithm": "hpke-p256-hkdf-sha256-aes256gcm"}, "unsupported algorithm"),
    ({"key_id": "00" * 32}, "key_id is not the SHA-256"),
    ({"threshold": 4}, "2 <= k <= n"),
    ({"threshold": 1}, "2 <= k <= n"),
    ({"threshold": True}, "'threshold' is not an integer"),
    ({"shares__1__index": 3}, "numbered 1..n"),
    ({"shares__1__officer": "agency officer"}, "same officer"),
    ({"shares__1__role": "bidder"}, "unknown role"),
    ({"shares__1__alg": "rsa-oaep"}, "unknown suite"),
    ({"shares__0__enc": "not base64!"}, "Only base64 data"),
    ({"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
     "Could not deserialize"),
    ({"created_at": "2026-03-02T01:00:00"}, "no time zone"),
    ({"shares": "none"}, "'shares' is not a list"),
])
def test_a_malformed_setup_is_refused(setup: OpeningKeySetup, changes: dict[str, object],
                                      reason: str) -> None:
    with pytest.raises(MalformedSetup, match=reason):
        OpeningKeySetup.from_json(_edited(setup, **changes))


def test_a_setup_that_is_not_json_is_refused() -> None:
    with pytest.raises(MalformedSetup, match="not JSON"):
        OpeningKeySetup.from_json("{")
    with pytest.raises(MalformedSetup):
        OpeningKeySetup.from_json("[]")


# --- decrypting a share ---------------------------------------------------------------------


def test_another_officers_key_does_not_decrypt_a_share(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    agency_share = setup.share_for("agency officer")
    with pytest.raises(WrongOfficerKey, match="encrypted to key"):
        decrypt_share(agency_share, officers["supervisor"].encryption.key, TENDER)
    with pytest.raises(WrongOfficerKey, match="encrypted to key"):
        decrypt_share(agency_share, ec.generate_private_key(ec.SECP256R1()), TENDER)
    with pytest.raises(WrongOfficerKey, match="the key hpke-x25519"):
        decrypt_share(agency_share, x25519.X25519PrivateKey.generate(), TENDER)
    with pytest.raises(WrongOfficerKey):  # the signing key is not the encryption key
        decrypt_share(agency_share, officers["agency"].signing.key, TENDER)  # type: ignore[arg-type]


def test_a_share_for_another_tender_is_refused(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    share = setup.share_for("agency officer")
    key = officers["agency"].encryption.key
    with pytest.raises(ShareForAnotherTender) as refused:
        decrypt_share(share, key, "T-2026-999")
    assert refused.value.params == {"share_tender": TENDER, "tender": "T-2026-999"}
    # Relabelling it does not help: the tender is bound into the HPKE info.
    relabelled = dataclasses.replace(share, tender="T-2026-999")
    with pytest.raises(WrongOfficerKey, match="HPKE decryption failed"):
        decrypt_share(relabelled, key, "T-2026-999")


@pytest.mark.parametrize("changes", [
    {"index": 2}, {"role": "centre"}, {"threshold": 3}, {"opening_key_id": "ab" * 32},
])
def test_the_fields_of_an_encrypted_share_are_bound_to_it(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair], changes: dict[str, object],
) -> None:
    share = dataclasses.replace(setup.share_for("agency officer"), **changes)
    with pytest.raises(WrongOfficerKey, match="HPKE decryption failed"):
        decrypt_share(share, officers["agency"].encryption.key, TENDER)


def test_an_altered_ciphertext_does_not_decrypt(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    share = setup.share_for("centre officer")
    ct = bytearray(share.ct)
    ct[0] ^= 1
    with pytest.raises(WrongOfficerKey):
        decrypt_share(dataclasses.replace(share, ct=bytes(ct)), officers["centre"].encryption.key,
                      TENDER)


# --- recovering -----------------------------------------------------------------------------


def test_a_tampered_share_is_named_at_submission_and_at_recovery(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    agency, supervisor = shares_of(setup, officers, ("agency", "supervisor"))
    assert verify_share(agency, setup) == agency
    value = bytearray(supervisor.value)
    value[5] ^= 0x80
    bad = dataclasses.replace(supervisor, value=bytes(value))
    with pytest.raises(TamperedShare) as refused:
        verify_share(bad, setup)
    assert refused.value.params == {"index": 2}
    with pytest.raises(TamperedShare):
        recover_private_key([agency, bad], setup)
    with pytest.raises(InconsistentShares, match="threshold 3, not 2"):
        verify_share(dataclasses.replace(agency, threshold=3), setup)


def test_shares_of_another_setup_are_refused(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    again = generate_opening_key(officers=recipients(officers), tender_id=TENDER, now=NOW)
    assert again.public_key != setup.public_key
    mine = shares_of(setup, officers, ("agency",))
    theirs = shares_of(again, officers, ("centre",))
    with pytest.raises(TamperedShare):
        recover_private_key(mine + theirs, setup)


def test_a_setup_whose_public_key_was_swapped_is_caught(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    swapped = dataclasses.replace(setup, public_key=x25519.X25519PrivateKey.generate()
                                  .public_key())
    with pytest.raises(OpeningKeyMismatch):
        recover_private_key(shares_of(setup, officers, ("agency", "centre")), swapped)


def test_commitments_swapped_with_forged_shares_still_fail_the_checksum(
    setup: OpeningKeySetup, officers: dict[str, IssuedPair],
) -> None:
    # Someone who can rewrite the stored setup can make commitments match altered shares,
    # but the altered shares no longer carry a valid checksum.
    agency, centre = shares_of(setup, officers, ("agency", "centre"))
    forged = dataclasses.replace(centre, value=bytes(len(centre.value)))
    rewritten = dataclasses.replace(setup, shares=tuple(
        dataclasses.replace(s, commitment=commitment(forged)) if s.index == 3 else s
        for s in setup.shares))
    with pytest.raises(SharesDoNotCombine):
        recover_private_key([agency, forged], rewritten)


# --- refusals at generation -----------------------------------------------------------------


def test_generation_refuses_impossible_or_unsafe_committees(
    officers: dict[str, IssuedPair],
) -> None:
    three = recipients(officers)
    for k in (1, 4):
        with pytest.raises(MalformedSetup, match="2 <= k <= n"):
            generate_opening_key(officers=three, k=k, tender_id=TENDER, now=NOW)
    same_key = [three[0], dataclasses.replace(three[1], encryption_public_key=three[0]
                                              .encryption_public_key), three[2]]
    with pytest.raises(MalformedSetup, match="same key"):
        generate_opening_key(officers=same_key, tender_id=TENDER, now=NOW)
    same_name = [three[0], dataclasses.replace(three[1], name=three[0].name), three[2]]
    with pytest.raises(MalformedSetup, match="same officer"):
        generate_opening_key(officers=same_name, tender_id=TENDER, now=NOW)
    with pytest.raises(MalformedSetup, match="unknown role"):
        generate_opening_key(officers=[three[0], dataclasses.replace(three[1], role="bidder"),
                                       three[2]], tender_id=TENDER, now=NOW)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        generate_opening_key(officers=[three[0], dataclasses.replace(
            three[1], encryption_public_key=rsa_key)], tender_id=TENDER, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_opening_key(officers=three, tender_id=TENDER, now=datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="tender_id"):
        generate_opening_key(officers=three, tender_id="", now=NOW)
