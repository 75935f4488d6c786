"""Maintenance scripts (not shipped in the package)."""
