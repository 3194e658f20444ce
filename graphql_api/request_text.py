"""The request body must be JSON in UTF-8 whose strings are Unicode text.

A JSON escape such as ``\\ud800`` decodes to a lone surrogate, which is no
character at all: it cannot be encoded to UTF-8, so it could be neither stored
(audit records), sent to PostgreSQL nor echoed back. Such requests are refused
as a whole with a message that says why. NUL is a character and stays: fields
treat it as malformed input (an identifier with NUL is answered as invalid).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidRequestText(ValueError):
    """The body is not JSON in UTF-8, or holds something that is not text."""


def decode(body: str | bytes) -> Any:
    """The decoded JSON body; raises InvalidRequestText with a readable reason."""
    try:
        # orjson refuses invalid UTF-8 and lone surrogates itself, and is several times
        # faster; what it refuses is decoded again below to say exactly why.
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise InvalidRequestText("The request body is not valid UTF-8; send JSON "
                                 "encoded as UTF-8.") from None
    except ValueError as exc:
        raise InvalidRequestText(f"The request body is not valid JSON ({exc}).") from None
    except RecursionError:
        raise InvalidRequestText("The request body nests JSON too deeply.") from None
    if _holds_lone_surrogate(data):
        raise InvalidRequestText(
            "The request holds a lone UTF-16 surrogate (such as \\ud800 escaped in JSON), "
            "which is not text; send valid Unicode.")
    return data


def _holds_lone_surrogate(data: Any) -> bool:
    # Walked with a stack, not recursion: json.loads accepts nesting deeper than a
    # recursive walk could follow.
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
