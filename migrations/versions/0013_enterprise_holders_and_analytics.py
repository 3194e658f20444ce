"""Enterprise holders of land, and the analytics of the enterprise and land registries

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:00:00

Both registries share the database now, so a land party of kind ``enterprise`` refers
to the enterprise registry by a foreign key.

Then the two registries' sections of the analytics schema, under the rules of 0012:
materialized views that read base tables, each with a unique index (refreshed
concurrently by ``etl.refresh_analytics()``, which finds them by itself), every column
commented, persons only under their pseudonym. The enterprise register is public
(code, name, form, status, office, lines); its representatives and owners are persons
and are not shown.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.analytics_views import PERSON, VALID_FROM, VALID_TO, matview

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTY_ENTERPRISE = "The enterprise (10-digit code), for an enterprise party."
PARTY_ENTERPRISE_BEFORE = ("The enterprise (10-digit code), for an enterprise party; its "
                           "foreign key to the enterprise registry comes with that registry.")


def enterprise_holders() -> None:
    op.create_foreign_key(op.f("fk_party_enterprise_code_enterprise"), "party", "enterprise",
                          ["enterprise_code"], ["code"], source_schema="land",
                          referent_schema="enterprise")
    op.alter_column("party", "enterprise_code", schema="land", existing_type=sa.String(10),
                    comment=PARTY_ENTERPRISE, existing_comment=PARTY_ENTERPRISE_BEFORE)


# Rows valid on the refresh day, of a bitemporal table aliased ``{t}``.
TODAY = ("{t}.superseded_at IS NULL AND {t}.valid_from <= current_date "
         "AND coalesce({t}.valid_to, 'infinity') > current_date")
# The ISIC section (depth 1) above an industry code ``l.industry_code``, four levels up.
SECTION_JOINS = """
        JOIN ref.industry i1 ON i1.code = l.industry_code
        LEFT JOIN ref.industry i2 ON i2.code = i1.parent_code
        LEFT JOIN ref.industry i3 ON i3.code = i2.parent_code
        LEFT JOIN ref.industry i4 ON i4.code = i3.parent_code
        LEFT JOIN ref.industry i5 ON i5.code = i4.parent_code"""
SECTION = ("CASE 1 WHEN i1.depth THEN i1.code WHEN i2.depth THEN i2.code "
           "WHEN i3.depth THEN i3.code WHEN i4.depth THEN i4.code "
           "WHEN i5.depth THEN i5.code END")
ENTERPRISE_TODAY = f"""
        FROM enterprise.enterprise e
        JOIN enterprise.enterprise_name n ON n.enterprise_code = e.code
         AND {TODAY.format(t='n')}
        JOIN enterprise.enterprise_status st ON st.enterprise_code = e.code
         AND {TODAY.format(t='st')}
        LEFT JOIN enterprise.enterprise_form f ON f.enterprise_code = e.code
         AND {TODAY.format(t='f')}
        LEFT JOIN enterprise.head_office h ON h.enterprise_code = e.code
         AND {TODAY.format(t='h')}
        LEFT JOIN etl.unit_province u ON u.unit_id = h.unit_id
        LEFT JOIN enterprise.business_line l ON l.enterprise_code = e.code AND l.is_main
         AND {TODAY.format(t='l')}"""


def enterprise() -> None:
    matview("enterprise", "Enterprises as the public register shows them on the refresh "
            "day: code, name, legal form, status, head office and main line (no "
            "representatives or owners, who are persons).", f"""
        SELECT e.code, n.name, f.legal_form, st.status, e.founding_date,
               u.province_code, u.unit_code AS commune_code, l.industry_code AS main_line,
               {SECTION} AS section
        {ENTERPRISE_TODAY}
        {SECTION_JOINS.replace("JOIN ref.industry i1", "LEFT JOIN ref.industry i1")}""",
            "code", {
                "code": "Enterprise code (10 digits).", "name": "Name in Vietnamese.",
                "legal_form": "Legal form (ref.legal_form).",
                "status": "Status (ref.enterprise_status).",
                "founding_date": "Day of founding.",
                "province_code": "Province of the head office.",
                "commune_code": "Commune of the head office.",
                "main_line": "Main line of business (VSIC code, ref.industry).",
                "section": "ISIC section (letter) of the main line."})
    matview("enterprise_by_industry_province", "Enterprises by ISIC section of their main "
            "line, province of their head office and status, on the refresh day.", f"""
        SELECT current_date AS as_of, {SECTION} AS section,
               (SELECT s.name_en FROM ref.industry s WHERE s.code = {SECTION}) AS section_name,
               u.province_code, st.status, count(*)::int AS enterprises
        {ENTERPRISE_TODAY.replace('LEFT JOIN etl.unit_province', 'JOIN etl.unit_province')
                         .replace('LEFT JOIN enterprise.head_office', 'JOIN enterprise.head_office')
                         .replace('LEFT JOIN enterprise.business_line',
                                  'JOIN enterprise.business_line')}
        {SECTION_JOINS}
        WHERE u.province_code IS NOT NULL
        GROUP BY 2, 3, u.province_code, st.status""",
            "section, province_code, status", {
                "as_of": "The day the counts speak for (the refresh day).",
                "section": "ISIC section (letter) of the main line.",
                "section_name": "Its English name.",
                "province_code": "Province of the head office.",
                "status": "Status (ref.enterprise_status).",
                "enterprises": "Number of enterprises."})


def land() -> None:
    matview("land_right", "Rights, restrictions and mortgages on parcels over time, with "
            "their holders: persons by pseudonym (each member of a group on a row of its "
            "own), enterprises by code, organisations by name.", """
        SELECT r.id AS right_version, row_number() OVER (PARTITION BY r.id
                                                         ORDER BY x.id)::int AS holder_number,
               r.reference, r.rrr_type, r.parcel_id, u.province_code, c.commune_code,
               h.party_kind AS holder_kind,
               etl.pseudonym(x.national_id) AS person, h.enterprise_code,
               CASE WHEN h.party_kind = 'organisation' THEN h.name END AS organisation,
               (r.share * coalesce(m.share, 1))::numeric(9, 8) AS share,
               r.valid_from, r.valid_to
        FROM land.rrr r
        JOIN land.parcel c ON c.id = r.parcel_id
        LEFT JOIN LATERAL (SELECT v.unit_id FROM land.parcel_version v
                           WHERE v.parcel_id = r.parcel_id AND v.superseded_at IS NULL
                           ORDER BY v.valid_from DESC LIMIT 1) pv ON true
        LEFT JOIN etl.unit_province u ON u.unit_id = pv.unit_id
        LEFT JOIN land.party h ON h.id = r.party_id
        LEFT JOIN land.party_member m ON m.group_id = h.id
        LEFT JOIN land.party x ON x.id = coalesce(m.member_id, h.id)
        WHERE r.superseded_at IS NULL""",
            "right_version, holder_number", {
                "right_version": "The right's version (one row of its history).",
                "holder_number": "1, or the member's number within a group of holders.",
                "reference": "The right's reference (certificate or contract number).",
                "rrr_type": "Right, restriction or mortgage (land.rrr_type).",
                "parcel_id": "The parcel (analytics.land_parcel.parcel_id).",
                "province_code": "Province of the parcel.",
                "commune_code": "Commune code of the parcel.",
                "holder_kind": "person, enterprise, organisation or group; NULL for a "
                "restriction on the land itself.",
                "person": PERSON + " For a group, the member on this row.",
                "enterprise_code": "The holding enterprise (analytics.enterprise.code).",
                "organisation": "Name of a holding organisation (such as a bank).",
                "share": "Share held on this row (a member's share of the group's).",
                "valid_from": VALID_FROM, "valid_to": VALID_TO})
    matview("land_use_by_province", "Parcels and their areas by land-use type and province, "
            "on the refresh day.", f"""
        SELECT current_date AS as_of, u.province_code, v.land_use, t.parent_code AS category,
               count(*)::int AS parcels,
               sum(v.declared_area_m2)::numeric(16, 2) AS declared_area_m2,
               sum(ST_Area(v.geom::geography))::numeric(16, 2) AS geodesic_area_m2
        FROM land.parcel_version v
        JOIN etl.unit_province u ON u.unit_id = v.unit_id
        LEFT JOIN ref.land_use_type t ON t.code = v.land_use
        WHERE {TODAY.format(t='v')}
        GROUP BY u.province_code, v.land_use, t.parent_code""",
            "province_code, land_use", {
                "as_of": "The day the counts speak for (the refresh day).",
                "province_code": "Province of the parcels.",
                "land_use": "Land-use type (ref.land_use_type).",
                "category": "Its land category (NNP, PNN, CSD).",
                "parcels": "Number of parcels.",
                "declared_area_m2": "Sum of declared areas, m².",
                "geodesic_area_m2": "Sum of areas measured on the ellipsoid, m²."})


NEW_VIEWS = ("land_use_by_province", "land_right", "enterprise_by_industry_province",
             "enterprise")


def upgrade() -> None:
    enterprise_holders()
    enterprise()
    land()


def downgrade() -> None:
    for name in NEW_VIEWS:
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS analytics.{name}")
    op.alter_column("party", "enterprise_code", schema="land", existing_type=sa.String(10),
                    comment=PARTY_ENTERPRISE_BEFORE, existing_comment=PARTY_ENTERPRISE)
    op.drop_constraint(op.f("fk_party_enterprise_code_enterprise"), "party", schema="land",
                       type_="foreignkey")
