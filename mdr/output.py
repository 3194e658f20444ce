"""How commands report: one JSON object on stdout with --json, rich text otherwise."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sys
from typing import Any

from rich.console import Console

# Progress, logs and human-readable messages go to stderr; stdout is for results.
err = Console(stderr=True)
out = Console()


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def emit_json(payload: dict[str, Any]) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=_default) + "\n")
    sys.stdout.flush()
