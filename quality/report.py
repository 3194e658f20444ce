"""The HTML quality report: one self-contained file, a table per registry, scores by province."""

from __future__ import annotations

from html import escape
from pathlib import Path

from quality.run import QualityReport, RegistryResult, Score

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #1a7f37; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
.muted { color: #666; }
"""


def _e(value: object) -> str:
    """Any value as HTML text; None shows as an empty cell."""
    return "" if value is None else escape(str(value), quote=True)


def _verdict(passed: bool) -> str:
    return '<span class="passed">passed</span>' if passed else '<span class="failed">failed</span>'


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _score(score: Score) -> str:
    return f"{score.score:.1%} ({score.passed} passed, {score.failed} failed)"


def _registry(result: RegistryResult) -> str:
    provinces = result.provinces
    parts = [
        f"<h2>{_e(result.registry)}</h2>",
        f"<p>Score {_e(_score(result.score))}; run {_e(result.run_id or 'not stored')}, "
        f"{_e(f'{result.started_at:%Y-%m-%d %H:%M:%S} to {result.finished_at:%H:%M:%S} UTC')}."
        "</p>",
        "<table><thead><tr><th>rule</th><th>result</th><th>unexpected rows</th>"
        + ("<th>provinces passing</th>" if provinces else "")
        + "<th>what it demands</th><th>error</th></tr></thead><tbody>",
    ]
    for rule in result.results:
        passing = sum(1 for p in provinces for r in p.results if r.rule == rule.rule and r.passed)
        parts.append(
            f"<tr><td><code>{_e(rule.rule)}</code></td><td>{_verdict(rule.passed)}</td>"
            f'<td class="num">{_e(rule.unexpected_count)}</td>'
            + (f'<td class="num">{passing}/{len(provinces)}</td>' if provinces else "")
            + f"<td>{_e(rule.message)}</td><td>{_e(rule.error)}</td></tr>"
        )
    parts.append("</tbody></table>")
    if provinces:
        # Cross-registry consistency scores get a column each: the share of the province's
        # rows that agree with the other registry.
        measures = [r.rule for r in result.results if r.consistency is not None]
        parts.append(
            f"<h3>By province</h3><p class=\"muted\">{_e(result.province_basis)}</p>"
            "<table><thead><tr><th>code</th><th>province</th>"
            "<th>passed</th><th>failed</th><th>score</th>"
            + "".join(f"<th>{_e(m)}</th>" for m in measures)
            + "<th>failed rules</th></tr></thead><tbody>"
        )
        for province in provinces:
            score = province.score
            consistency = {r.rule: r.consistency for r in province.results}
            parts.append(
                f"<tr><td><code>{_e(province.code)}</code></td>"
                f"<td>{_e(province.name or 'unknown code')}</td>"
                f'<td class="num">{score.passed}</td><td class="num">{score.failed}</td>'
                f'<td class="num">{score.score:.1%}</td>'
                + "".join(f'<td class="num">{_percent(consistency.get(m))}</td>'
                          for m in measures)
                + f"<td>{_e(', '.join(province.failed_rules))}</td></tr>"
            )
        parts.append("</tbody></table>")
    return "\n".join(parts)


def render_html(report: QualityReport) -> str:
    """The report as one HTML document (inline style, no external resources)."""
    status = "all expectations met" if report.ok else "expectations failed"
    body = "\n".join(_registry(r) for r in report.registries)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>mdr quality report {_e(report.as_of.isoformat())}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>mdr quality report</h1><p>As of {_e(report.as_of.isoformat())}: "
        f'<span class="{"passed" if report.ok else "failed"}">{status}</span>.</p>'
        f"\n{body}\n</body></html>\n"
    )


def write_html_report(report: QualityReport, path: Path) -> Path:
    """Write the report to ``path`` (parent folders are created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
