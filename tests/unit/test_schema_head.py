"""The schema-version guard reads the newest revision from the revision files' text: it
must be the head Alembic finds by importing them, and a second head must be refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from mdr import db
from mdr.settings import PROJECT_ROOT


def test_code_head_is_alembics_head() -> None:
    assert db.code_head() == ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def test_two_heads_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "migrations" / "versions"
    shutil.copytree(PROJECT_ROOT / "migrations" / "versions", versions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    head = db.code_head()
    # A branch's revision written beside another on the same parent: two heads.
    (versions / "9999_other_branch.py").write_text(
        f'"""Another branch."""\n\nrevision: str = "9999"\ndown_revision: str | None = '
        f'"{int(head) - 1:04d}"\n')
    monkeypatch.setattr(db, "PROJECT_ROOT", tmp_path)
    with pytest.raises(AssertionError, match="2 heads"):
        db.code_head()
