"""Demo data: two months of a provincial trading centre, replayed through the platform's services.

Why replay instead of inserting rows. Everything the demo leaves behind is made by the service
function a user's click would call, under a FixedClock moved forward through the story: every
statutory check runs, the audit trail is the real one (``ebid audit verify`` says OK), and a
demo that stops building points at a service whose behaviour changed.

Why the dates are computed. The story ends at the real current time, so its dates move with the
day it is built. Official acts (publication, opening, award) fall on working days of the centre's
calendar, and each is worked out backwards from the act that must follow it, so every statutory
period fits whatever public holidays lie in between. Bidders act online, at any hour.

A story is an async generator per tender: it yields the instant of its next step, and
:func:`runner._play` runs the steps of all stories in time order, letting the scheduler's own code
(``advance_due``) open whatever is due before each one, as it would on a live server.

Why the bids are sealed for real. Each demo bidder holds a certificate pair from a development
PKI made in the data directory (``pki``); its bids are sealed packages signed and encrypted as
``ebid-client`` seals them, handed to the same service an upload ends in, and opened through the
decryption window with keys and officers' shares sent as the client sends them. So the receipts,
the log, the opening record and the collusion analysis the demo shows are the real ones.

The package: ``data`` (the cast and the tenders), ``pki`` (the certificates), ``tools``
(``Demo`` and its acts), ``stories`` (one per tender) and ``runner`` (``build_demo``).
"""

from ebid.demo.runner import build_demo

__all__ = ["build_demo"]
