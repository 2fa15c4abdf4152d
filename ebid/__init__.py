"""Assembles the application, the CLI and the jobs. Nothing imports this package."""
