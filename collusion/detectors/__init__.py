"""Every detector, one module each (docs/collusion.md has a section per detector).

Add a detector by writing its module and naming it in ``all_detectors``; the contract test
picks it up from here.
"""

from __future__ import annotations

from collusion.base import Detector
from collusion.detectors.associated_firms import AssociatedFirms
from collusion.detectors.file_metadata import FileMetadata
from collusion.detectors.history import BidHistory
from collusion.detectors.itemised_prices import ItemisedPrices
from collusion.detectors.price_screens import PriceScreens
from collusion.detectors.same_machine import SameMachine
from collusion.detectors.shared_deposit import SharedDeposit
from collusion.detectors.shared_errors import SharedErrors
from collusion.detectors.shared_passages import SharedPassages
from collusion.detectors.unbalanced_prices import UnbalancedPrices


def all_detectors() -> list[Detector]:
    """One instance of each detector with its default configuration."""
    found: list[Detector] = []
    found.append(SameMachine())
    found.append(SharedDeposit())
    found.append(AssociatedFirms())
    found.append(SharedPassages())
    found.append(FileMetadata())
    found.append(SharedErrors())
    found.append(ItemisedPrices())
    found.append(PriceScreens())
    found.append(BidHistory())
    found.append(UnbalancedPrices())
    return found
