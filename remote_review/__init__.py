"""Expert pool, random draw and remote scoring (a later issue)."""
