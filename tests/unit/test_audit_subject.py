"""What the audit trail keeps as the subject of an access."""

from __future__ import annotations

from graphql_api.auth import audit_subject


def test_audit_subjects_keep_malformed_identifiers_distinct() -> None:
    assert audit_subject("001080000001") == "001080000001"
    assert audit_subject("00108000\x000001") == "00108000\\x000001"
    assert audit_subject("00108000\\x000001") != audit_subject("00108000\x000001")
    cut = audit_subject("9" * 100)
    assert len(cut) == 64 and cut.endswith("…") and cut != "9" * 64
