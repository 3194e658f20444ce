"""GraphQL types, one module per registry (written by hand: the API is a public contract)."""
