"""Client test material: EC test CAs from the dev PKI, a bidder's PKCS#12 pair, three officers
and a tender opening key shared among them, and the fake platform serving them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatform import NOW, Platform, serve

from ebid.client.cli import main
from signing.opening_key import OfficerRecipient, OpeningKeySetup, generate_opening_key
from signing.pki import DevPKI, IssuedPair
from signing.pki.devpki import write_pair

PASSWORD = "client-test"
TENDER = 7


@dataclass(frozen=True)
class Holder:
    pair: IssuedPair
    p12: Path
    enc_p12: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW, families=("ec",))


def _holder(pki: DevPKI, directory: Path, name: str, **issue: object) -> Holder:
    pair = pki.issue(name=name, now=NOW, family="ec", **issue)  # type: ignore[arg-type]
    p12, enc = write_pair(pair, directory / f"{name}.p12", password=PASSWORD)
    return Holder(pair, p12, enc)


@pytest.fixture(scope="session")
def bidder(pki: DevPKI, tmp_path_factory: pytest.TempPathFactory) -> Holder:
    return _holder(pki, tmp_path_factory.mktemp("bidder"), "华东建设有限公司", kind="company")


@pytest.fixture(scope="session")
def officers(pki: DevPKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Holder]:
    directory = tmp_path_factory.mktemp("officers")
    return {role: _holder(pki, directory, f"officer-{role}", kind="officer", role=role)
            for role in ("agency", "supervisor", "centre")}


@pytest.fixture(scope="session")
def setup(officers: dict[str, Holder]) -> OpeningKeySetup:
    return generate_opening_key(
        officers=[OfficerRecipient(f"officer-{role}", role,  # type: ignore[arg-type]
                                   holder.pair.encryption.certificate)
                  for role, holder in officers.items()],
        tender_id=str(TENDER), now=NOW)


@pytest.fixture
def platform(setup: OpeningKeySetup) -> Iterator[tuple[Platform, str]]:
    fake = Platform(setup, TENDER)
    server, url = serve(fake)
    try:
        yield fake, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "client-home"
    monkeypatch.setenv("EBID_CLIENT_HOME", str(home))
    monkeypatch.setenv("EBID_P12_PASSWORD", PASSWORD)
    monkeypatch.delenv("EBID_SERVER", raising=False)
    return home


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], client_home: Path):  # type: ignore[no-untyped-def]
    """``run(*argv)``: the client's main() in-process, its exit status and output."""

    def runner(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as exit_:
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return runner
