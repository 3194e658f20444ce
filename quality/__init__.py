"""Data-quality suites per registry and across registries."""
