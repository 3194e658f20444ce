"""The GraphQL API (strawberry): verification, look-ups, audit."""
