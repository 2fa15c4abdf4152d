"""Every detector, one module each (docs/collusion.md has a section per detector).

Add a detector by writing its module and naming it in ``all_detectors``; the contract test
picks it up from here.
"""

from __future__ import annotations

from collusion.base import Detector


def all_detectors() -> list[Detector]:
    """One instance of each detector with its default configuration."""
    found: list[Detector] = []
    return found
