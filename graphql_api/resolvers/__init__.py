"""Resolvers, one module per registry: thin, batched, audited."""
