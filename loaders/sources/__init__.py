"""Readers of source files and column-mapping profiles."""
