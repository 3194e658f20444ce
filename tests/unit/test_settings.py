"""Settings come from MDR_* variables and say which one is wrong."""

from pathlib import Path

import pytest

from mdr.settings import Settings, SettingsError


def test_defaults_use_the_embedded_cluster() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.var_dir.name == "var"


def test_variables_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "MDR_DATABASE_URL": "postgresql+psycopg://u@db/mdr",
        "MDR_VAR_DIR": str(tmp_path),
        "MDR_PG_PORT": "6543",
    })
    assert not settings.embedded
    assert settings.var_dir == tmp_path
    assert settings.pg_port == 6543


def test_a_bad_number_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="MDR_PG_PORT"):
        Settings.from_env({"MDR_PG_PORT": "fifty"})


def test_load_limits_are_read_and_must_be_positive() -> None:
    assert Settings.from_env({}).load_max_record_bytes == 4 << 20
    settings = Settings.from_env({"MDR_LOAD_MAX_RECORD_BYTES": "1000",
                                  "MDR_LOAD_MAX_DECOMPRESSED_BYTES": "2000",
                                  "MDR_LOAD_MAX_EXPANSION": "3"})
    assert (settings.load_max_record_bytes, settings.load_max_decompressed_bytes,
            settings.load_max_expansion) == (1000, 2000, 3)
    with pytest.raises(SettingsError, match="MDR_LOAD_MAX_RECORD_BYTES"):
        Settings.from_env({"MDR_LOAD_MAX_RECORD_BYTES": "0"})
