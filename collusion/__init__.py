"""Collusion detection: detectors that carry their evidence, a relationship graph, case files
(docs/collusion.md)."""
