"""``ebid-client``: seal, submit and open bids from the bidder's own machine (docs/client.md).

Runs on the bidder's and the officers' machines, not on the platform: it talks to the platform
only through its public HTTP API and keeps private keys local.
"""
