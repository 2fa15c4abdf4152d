"""Text of bid files for the text detectors: extraction (with a cache), normalisation that keeps
the way back to the original offsets, and winnowing fingerprints."""
