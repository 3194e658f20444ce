"""The API tells outages, statement timeouts and a registry held by a bulk load apart by
walking the error's chain: the same walk for all three, and only outages follow the error
being handled when another was raised."""

import asyncpg
import psycopg
from sqlalchemy.exc import OperationalError

from graphql_api.limits import registry_locked, statement_timeout, unavailable

LOCKED = asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")
TIMED_OUT = asyncpg.exceptions.QueryCanceledError(
    "canceling statement due to statement timeout")
CANCELLED = asyncpg.exceptions.QueryCanceledError("canceling statement due to user request")


def _raised_from(error: BaseException) -> RuntimeError:
    wrapper = RuntimeError("resolver failed")
    wrapper.__cause__ = error
    return wrapper


def _raised_while_handling(error: BaseException) -> RuntimeError:
    wrapper = RuntimeError("cleanup failed")
    wrapper.__context__ = error
    return wrapper


def test_each_is_found_in_the_error_itself_and_through_a_raise_from() -> None:
    assert registry_locked(LOCKED) is LOCKED
    assert statement_timeout(TIMED_OUT) is TIMED_OUT
    assert registry_locked(_raised_from(_raised_from(LOCKED))) is LOCKED
    assert statement_timeout(_raised_from(TIMED_OUT)) is TIMED_OUT
    refused = ConnectionRefusedError(111, "refused")
    assert unavailable(_raised_from(refused)) is refused


def test_each_is_found_in_the_driver_error_sqlalchemy_keeps() -> None:
    driver = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    wrapped = OperationalError("SELECT 1", {}, driver)
    assert registry_locked(wrapped) is driver
    assert statement_timeout(wrapped) is None
    assert unavailable(wrapped) is None


def test_only_an_outage_explains_an_error_raised_while_handling_it() -> None:
    lost = ConnectionResetError()
    assert unavailable(_raised_while_handling(lost)) is lost
    assert registry_locked(_raised_while_handling(LOCKED)) is None
    assert statement_timeout(_raised_while_handling(TIMED_OUT)) is None


def test_each_names_only_its_own_error() -> None:
    assert statement_timeout(CANCELLED) is None       # an operator's cancel is no timeout
    assert registry_locked(TIMED_OUT) is None
    assert unavailable(LOCKED) is None
    assert unavailable(TIMED_OUT) is None


def test_a_chain_that_loops_ends() -> None:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__cause__, second.__cause__ = second, first
    second.__context__ = first
    assert unavailable(first) is None
    assert registry_locked(first) is None
    assert statement_timeout(first) is None
