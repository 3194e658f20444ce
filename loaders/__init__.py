"""Loaders: extract → normalise → validate → stage → merge, one module per registry."""
