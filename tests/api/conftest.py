"""The API tests' fixtures (defined with the verification tests): a database holding the
sample family, clients with keys, the app, and ``ask`` to post a query with a key."""

from tests.api.test_verification import api_db, ask, client  # noqa: F401
