"""The reason catalogue: every slug the code emits is in it, and it is what `mdr reasons` shows."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loaders import reasons
from loaders.base import RowIssue, registered_loaders
from mdr.cli import app
from mdr.settings import PROJECT_ROOT

SLUG = re.compile(r"[a-z]+(?:-[a-z0-9]+)*")


def emitted_slugs() -> dict[str, list[str]]:
    """Slugs written as literals where issues are made, with where: the first argument of
    ``RowIssue(...)``, ``Violation(...)``, ``Reason(...)`` and ``reasons.get(...)``."""
    found: dict[str, list[str]] = {}
    for folder in ("loaders", "quality", "mdr", "fixtures"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                name = (node.func.attr if isinstance(node.func, ast.Attribute)
                        else getattr(node.func, "id", ""))
                first = node.args[0]
                if name in ("RowIssue", "Violation", "get", "_reason") and isinstance(
                        first, ast.Constant) and isinstance(first.value, str) and SLUG.fullmatch(
                        first.value) and "-" in first.value:
                    where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
                    found.setdefault(first.value, []).append(where)
    return found


def test_every_slug_the_code_emits_is_catalogued() -> None:
    emitted = emitted_slugs()
    # The scan sees the rules' slugs (the identifier rules write them as literals).
    assert {"sex-digit-mismatch", "invalid-check-digit", "unknown-admin-unit"} <= set(emitted)
    missing = {slug: where for slug, where in emitted.items() if slug not in reasons.CATALOGUE}
    assert missing == {}


def test_an_issue_with_an_uncatalogued_slug_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="not in the catalogue"):
        RowIssue("made-up-reason", "A message.")
    with pytest.raises(KeyError, match="made-up-reason"):
        reasons.get("made-up-reason")


def test_each_reason_has_a_slug_a_title_and_a_template_of_named_fields() -> None:
    assert len(reasons.CATALOGUE) >= 30
    for slug, reason in reasons.CATALOGUE.items():
        assert reason.slug == slug and SLUG.fullmatch(slug), slug
        assert reason.title.endswith(".") and reason.template, slug
        assert reason.registries, slug
        fields = [f for _, f, _, _ in string.Formatter().parse(reason.template) if f]
        assert all(f.isidentifier() for f in fields), (slug, fields)


def test_one_slug_says_one_thing_wherever_it_is_raised() -> None:
    # The same reason from the population load and from the reference load.
    population = reasons.UNKNOWN_ADMIN_UNIT.issue(
        row=3, field="commune_code", value="99999", level="commune", code="99999", period="",
        outcome="check it against the list of units (mdr ref units)")
    reference = reasons.UNKNOWN_ADMIN_UNIT.issue(
        field="old_code", value="99999→00001", level="commune", code="99999",
        period=" before 2025-07-01", outcome="the crosswalk's pair 99999→00001 was not loaded")
    assert population.message.startswith("No commune has code 99999;")
    assert reference.message.startswith("No commune has code 99999 before 2025-07-01;")
    assert (population.rejected, reference.rejected) == (True, True)
    assert reasons.CROSSWALK_NAME_MISMATCH.issue(
        value="Xã A", what="old commune 00001", listed="Xã B").rejected is False


def test_the_catalogue_covers_each_registry_with_a_loader() -> None:
    for registry in registered_loaders():
        assert reasons.for_registry(registry), registry
    ref = {r.slug for r in reasons.for_registry("ref")}
    assert {"crosswalk-name-mismatch", "crosswalk-type-mismatch", "unmapped-unit",
            "unknown-admin-unit", "invalid-geometry"} <= ref


def test_mdr_reasons_prints_the_catalogue() -> None:
    result = CliRunner().invoke(app, ["reasons", "--registry", "ref", "--json"])
    assert result.exit_code == 0, result.output
    listed = {r["slug"]: r for r in json.loads(result.stdout)["reasons"]}
    assert listed["crosswalk-name-mismatch"]["disposition"] == "flagged"
    assert listed["unknown-admin-unit"]["disposition"] == "rejected"
    assert "sex-digit-mismatch" not in listed
    text = CliRunner().invoke(app, ["reasons", "--registry", "population"])
    assert text.exit_code == 0
    assert "ambiguous-commune-successor" in text.stdout
    assert reasons.AMBIGUOUS_COMMUNE_SUCCESSOR.title in text.stdout


def test_each_registry_declares_its_loader_in_its_own_module() -> None:
    loaders = registered_loaders()
    assert {"population", "ref"} <= set(loaders)
    assert all(name == loader.registry for name, loader in loaders.items())
    assert loaders["population"].kinds == ("snapshot", "events")
    assert loaders["ref"].default_path == Path(PROJECT_ROOT / "fixtures" / "reference")


def test_an_unknown_registry_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", "weather", str(tmp_path)])
    assert result.exit_code == 2
    assert all(name in result.output for name in ("population", "ref", "land"))
