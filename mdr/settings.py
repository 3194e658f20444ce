"""Configuration: the one place that reads ``MDR_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_CLAIM_RATE = 5_000.0
"""Claims per second per client in production when MDR_API_CLAIM_RATE is unset."""


@dataclass(frozen=True)
class Settings:
    """Everything mdr can be told from outside, with the defaults a newcomer needs."""

    database_url: str | None = None
    """MDR_DATABASE_URL: the primary database; unset means the embedded cluster."""
    read_database_url: str | None = None
    """MDR_READ_DATABASE_URL: a read replica for API reads; unset means the primary."""
    var_dir: Path = PROJECT_ROOT / "var"
    """MDR_VAR_DIR: where the embedded cluster, reports and run files live."""
    pseudonym_key_file: Path | None = None
    """MDR_PSEUDONYM_KEY_FILE: the key of the analytics pseudonyms, kept outside the database;
    unset means ``var/secrets/pseudonym.key`` (made on first use, readable by its owner only)."""
    read_max_lag_seconds: float | None = None
    """MDR_READ_MAX_LAG_SECONDS: the API refuses to read from a replica further behind than
    this (503, or the primary with MDR_READ_FALLBACK); unset means no bound."""
    read_fallback: bool = False
    """MDR_READ_FALLBACK: read from the primary while the replica is down or behind the bound,
    instead of refusing."""
    pg_bindir: Path | None = None
    """MDR_PG_BINDIR: PostgreSQL server binaries; unset means pg_config / Debian's path."""
    pg_port: int | None = None
    """MDR_PG_PORT: port for the embedded cluster; unset means any free port."""
    statement_timeout_ms: int = 60_000
    """MDR_STATEMENT_TIMEOUT_MS: applied to migrations and interactive commands."""
    lock_timeout_ms: int = 10_000
    """MDR_LOCK_TIMEOUT_MS: how long DDL waits for a lock before giving up."""
    api_max_batch: int = 1_000
    """MDR_API_MAX_BATCH: most claims one request may carry, in one batch or across all its
    fields together, and most items its variables' lists may hold together."""
    api_rate_limit: float = 0.0
    """MDR_API_RATE_LIMIT: requests per second per client (bursts of 5×); 0 means none."""
    api_claim_rate: float | None = None
    """MDR_API_CLAIM_RATE: claims per second per client (bursts of 5×, at least one full
    batch); 0 means none; unset means 5,000 in production and none in development mode."""
    api_max_body_bytes: int = 0
    """MDR_API_MAX_BODY_BYTES: largest request body; 0 means sized from the batch limit
    (64 KiB plus 2 KiB per claim of a full batch)."""
    api_max_cost: int = 1_000_000
    """MDR_API_MAX_COST: largest estimated cost of a request (graphql_api/bounds.py)."""
    api_max_text: int = 256
    """MDR_API_MAX_TEXT: longest text value (characters) a request may hold."""
    api_lock_timeout_ms: int = 1_000
    """MDR_API_LOCK_TIMEOUT_MS: how long an API read waits for a lock on a registry table
    (held only while a bulk load rebuilds the registry) before answering REGISTRY_LOADING;
    0 means it waits."""
    api_dev_mode: bool = False
    """MDR_API_DEV: serve GraphiQL and allow introspection (never in production)."""
    api_workers: int = 1
    """MDR_API_WORKERS: API server processes sharing the database's connections (`mdr
    serve --workers` sets it for its workers)."""
    demo_scale: int = 100_000
    """MDR_DEMO_SCALE: persons in the sample ``mdr demo`` generates."""
    load_max_record_bytes: int = 4 << 20
    """MDR_LOAD_MAX_RECORD_BYTES: the longest record a load reads (a CSV record with the line
    breaks of its quoted fields, or a JSON line); a longer one refuses the file."""
    load_max_decompressed_bytes: int = 64 << 30
    """MDR_LOAD_MAX_DECOMPRESSED_BYTES: the most a compressed (.gz) source may expand to."""
    load_max_expansion: int = 100
    """MDR_LOAD_MAX_EXPANSION: a .gz source may expand to this many times its size at most
    (or 64 MiB, when that is more)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment (or the given mapping)."""
        env = os.environ if env is None else env

        def opt(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def integer(name: str, default: int | None) -> int | None:
            value = opt(name)
            if value is None:
                return default
            try:
                return int(value)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, not {value!r}") from None

        def positive(name: str, default: int) -> int:
            value = integer(name, default)
            if value is None or value <= 0:
                raise SettingsError(f"{name} must be a positive whole number, not {value}")
            return value
        def number(name: str, default: float | None) -> float | None:
            value = opt(name)
            if value is None:
                return default
            try:
                return float(value)
            except ValueError:
                raise SettingsError(f"{name} must be a number, not {value!r}") from None

        var_dir = opt("MDR_VAR_DIR")
        key_file = opt("MDR_PSEUDONYM_KEY_FILE")
        bindir = opt("MDR_PG_BINDIR")
        return cls(
            database_url=opt("MDR_DATABASE_URL"),
            read_database_url=opt("MDR_READ_DATABASE_URL"),
            var_dir=Path(var_dir).resolve() if var_dir else cls.var_dir,
            pg_bindir=Path(bindir) if bindir else None,
            pseudonym_key_file=Path(key_file).resolve() if key_file else None,
            read_max_lag_seconds=number("MDR_READ_MAX_LAG_SECONDS", None),
            read_fallback=(opt("MDR_READ_FALLBACK") or "").lower() in ("1", "true", "yes"),
            pg_port=integer("MDR_PG_PORT", None),
            statement_timeout_ms=integer("MDR_STATEMENT_TIMEOUT_MS", 60_000) or 0,
            lock_timeout_ms=integer("MDR_LOCK_TIMEOUT_MS", 10_000) or 0,
            api_max_batch=integer("MDR_API_MAX_BATCH", 1_000) or 1_000,
            api_rate_limit=number("MDR_API_RATE_LIMIT", 0.0) or 0.0,
            api_claim_rate=number("MDR_API_CLAIM_RATE", None),
            api_max_body_bytes=integer("MDR_API_MAX_BODY_BYTES", 0) or 0,
            api_max_cost=integer("MDR_API_MAX_COST", 1_000_000) or 1_000_000,
            api_max_text=integer("MDR_API_MAX_TEXT", 256) or 256,
            api_lock_timeout_ms=integer("MDR_API_LOCK_TIMEOUT_MS", 1_000) or 0,
            api_dev_mode=(opt("MDR_API_DEV") or "").lower() in ("1", "true", "yes"),
            api_workers=max(1, integer("MDR_API_WORKERS", 1) or 1),
            demo_scale=integer("MDR_DEMO_SCALE", 100_000) or 100_000,
            load_max_record_bytes=positive("MDR_LOAD_MAX_RECORD_BYTES", 4 << 20),
            load_max_decompressed_bytes=positive("MDR_LOAD_MAX_DECOMPRESSED_BYTES", 64 << 30),
            load_max_expansion=positive("MDR_LOAD_MAX_EXPANSION", 100),
        )

    @property
    def max_body_bytes(self) -> int:
        """The body-size limit in force: MDR_API_MAX_BODY_BYTES, or sized from the batch."""
        return self.api_max_body_bytes or (64 << 10) + (2 << 10) * self.api_max_batch

    @property
    def claims_per_second(self) -> float:
        """The claim budget in force per client: MDR_API_CLAIM_RATE, or its default."""
        if self.api_claim_rate is not None:
            return max(0.0, self.api_claim_rate)
        return 0.0 if self.api_dev_mode else DEFAULT_CLAIM_RATE

    @property
    def pseudonym_key_path(self) -> Path:
        """Where the analytics pseudonym key is kept."""
        return self.pseudonym_key_file or self.var_dir / "secrets" / "pseudonym.key"

    @property
    def embedded(self) -> bool:
        """True when mdr manages its own local cluster."""
        return self.database_url is None


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""
