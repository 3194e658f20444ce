"""The macro-economy registry: SDMX dataflows, their structures and code lists, series and
observations with every vintage kept.

It follows the SDMX information model so statistical offices recognise it: an
agency maintains data structures (dimensions, attributes, each coded by a code
list) and dataflows over them; a series is a dataflow plus one code per
dimension (its key); an observation is a series' value for a period as one
release (vintage) published it. A release never overwrites another: a revision
is a new row. "The series as published on 2024-03-01" is:

    SELECT DISTINCT ON (o.period) o.period, o.value
    FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
    WHERE o.series_id = :series AND r.release_date <= '2024-03-01'
    ORDER BY o.period, r.release_date DESC

and "every revision of 2023-Q4" is every row of the series for that period.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, recorded_at_column

SCHEMA = "macro"

OBSERVATION_STATUSES = {"A": "Normal value", "B": "Time series break", "E": "Estimated value",
                        "F": "Forecast value", "M": "Missing value", "P": "Provisional value"}
"""The observation statuses of the SDMX cross-domain code list mdr's own flows use."""


class Agency(Base):
    __tablename__ = "agency"
    __table_args__ = {"schema": SCHEMA,
                      "comment": "Maintenance agencies: who defines structures and publishes "
                      "dataflows (ECB, ESTAT, the national statistics office, MDR itself)."}

    code: Mapped[str] = mapped_column(String(64), primary_key=True,
                                      comment="SDMX agency id, e.g. ECB.")
    name: Mapped[str | None] = mapped_column(Text, comment="Name, where a message gives one.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Codelist(Base):
    """A versioned code list; one that mirrors a ``ref`` table names it instead of copying."""

    __tablename__ = "codelist"
    __table_args__ = (
        UniqueConstraint("agency", "code", "version"),
        {"schema": SCHEMA, "comment": "SDMX code lists, versioned; a list that exists in ref "
         "(units, sexes, industries, countries, currencies) points to it (ref_table)."},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Row key.")
    agency: Mapped[str] = mapped_column(ForeignKey(f"{SCHEMA}.agency.code"),
                                        comment="Maintenance agency.")
    code: Mapped[str] = mapped_column(String(64), comment="SDMX id, e.g. CL_FREQ.")
    version: Mapped[str] = mapped_column(String(32), comment="SDMX version, e.g. 1.0.")
    name: Mapped[str | None] = mapped_column(Text, comment="Name (English where given).")
    ref_table: Mapped[str | None] = mapped_column(
        Text, comment="The ref table whose codes this list is (e.g. ref.sex); NULL: the codes "
        "are in macro.code.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Code(Base):
    __tablename__ = "code"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to",
                        name="period"),
        {"schema": SCHEMA, "comment": "The codes of code lists that are not ref tables."},
    )

    codelist_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.codelist.id"),
                                             primary_key=True, comment="The code list.")
    code: Mapped[str] = mapped_column(String(64), primary_key=True, comment="The code.")
    name: Mapped[str | None] = mapped_column(Text, comment="Name (English where given).")
    parent_code: Mapped[str | None] = mapped_column(String(64),
                                                    comment="Enclosing code, in hierarchies.")
    valid_from: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day the code may be used; NULL: since before the records begin.")
    valid_to: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day the code may no longer be used; NULL while in use.")


class DataStructure(Base):
    __tablename__ = "data_structure"
    __table_args__ = (
        UniqueConstraint("agency", "code", "version"),
        {"schema": SCHEMA, "comment": "Data structure definitions (DSD): the dimensions "
         "that key a series and the attributes that qualify it."},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Row key.")
    agency: Mapped[str] = mapped_column(ForeignKey(f"{SCHEMA}.agency.code"),
                                        comment="Maintenance agency.")
    code: Mapped[str] = mapped_column(String(64), comment="SDMX id, e.g. ECB_EXR1.")
    version: Mapped[str] = mapped_column(String(32), comment="SDMX version.")
    name: Mapped[str | None] = mapped_column(Text, comment="Name (English where given).")
    time_dimension: Mapped[str] = mapped_column(
        String(64), server_default="TIME_PERIOD", comment="Id of the time dimension.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Dimension(Base):
    __tablename__ = "dimension"
    __table_args__ = (
        UniqueConstraint("structure_id", "position"),
        {"schema": SCHEMA, "comment": "The dimensions of a data structure, in key order "
         "(the time dimension is not among them)."},
    )

    structure_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.data_structure.id"),
                                              primary_key=True, comment="The structure.")
    code: Mapped[str] = mapped_column(String(64), primary_key=True,
                                      comment="Dimension id, e.g. FREQ, REF_AREA.")
    position: Mapped[int] = mapped_column(SmallInteger, comment="1-based place in the key.")
    codelist_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.codelist.id"), comment="Its code list; NULL: not coded.")
    role: Mapped[str | None] = mapped_column(
        Text, comment="What the dimension means to mdr: frequency, area (an admin unit at the "
        "observation's date), sex, age, industry; NULL: nothing special.")


class Attribute(Base):
    __tablename__ = "attribute"
    __table_args__ = (
        CheckConstraint("attached_to IN ('dataset', 'series', 'observation')",
                        name="attached_to"),
        {"schema": SCHEMA, "comment": "The attributes of a data structure (unit of measure, "
         "unit multiplier, observation status, ...)."},
    )

    structure_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.data_structure.id"),
                                              primary_key=True, comment="The structure.")
    code: Mapped[str] = mapped_column(String(64), primary_key=True,
                                      comment="Attribute id, e.g. OBS_STATUS.")
    codelist_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.codelist.id"), comment="Its code list; NULL: free text.")
    attached_to: Mapped[str] = mapped_column(
        Text, comment="Where its values sit: dataset, series or observation.")
    mandatory: Mapped[bool] = mapped_column(Boolean, server_default="false",
                                            comment="Whether every value must carry it.")


class Dataflow(Base):
    __tablename__ = "dataflow"
    __table_args__ = (
        UniqueConstraint("agency", "code", "version"),
        {"schema": SCHEMA, "comment": "Dataflows: what is published under one structure "
         "(e.g. ECB:EXR, MDR:POP_PROV)."},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Row key.")
    agency: Mapped[str] = mapped_column(ForeignKey(f"{SCHEMA}.agency.code"),
                                        comment="Maintenance agency.")
    code: Mapped[str] = mapped_column(String(64), comment="SDMX id, e.g. EXR.")
    version: Mapped[str] = mapped_column(String(32), comment="SDMX version.")
    name: Mapped[str | None] = mapped_column(Text, comment="Name (English where given).")
    structure_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.data_structure.id"),
                                              comment="Its data structure.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Release(Base):
    __tablename__ = "release"
    __table_args__ = (
        UniqueConstraint("dataflow_id", "release_date"),
        {"schema": SCHEMA, "comment": "Vintages: one release of a dataflow on a date; the "
         "observations it published or revised point to it."},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Row key.")
    dataflow_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.dataflow.id"),
                                             comment="The dataflow released.")
    release_date: Mapped[dt.date] = mapped_column(
        Date, comment="The day the release was published (the message's preparation date, "
        "its rows' UPDATED, or the load's effective date).")
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load (or derivation) that first recorded it.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Series(Base):
    __tablename__ = "series"
    __table_args__ = (
        UniqueConstraint("dataflow_id", "series_key"),
        Index("ix_series_dimensions", "dimensions", postgresql_using="gin"),
        {"schema": SCHEMA, "comment": "Series: a dataflow and one code per dimension."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True,
                                    comment="Row key.")
    dataflow_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.dataflow.id"),
                                             comment="The dataflow.")
    series_key: Mapped[str] = mapped_column(
        Text, comment="The dimension codes in key order joined by dots, e.g. M.USD.EUR.SP00.A.")
    dimensions: Mapped[dict[str, Any]] = mapped_column(
        JSONB, comment="The same key as {dimension id: code}.")
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default="{}", comment="Series-level attribute values as last released.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Observation(Base):
    __tablename__ = "observation"
    __table_args__ = (
        ForeignKeyConstraint(["series_id"], [f"{SCHEMA}.series.id"]),
        {"schema": SCHEMA, "comment": "Observation values as each release published them: a "
         "release adds a row only where it changes what the previous release said."},
    )

    series_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, comment="The series.")
    period: Mapped[str] = mapped_column(
        String(16), primary_key=True,
        comment="SDMX time period: 2024, 2024-Q1, 2024-S1, 2024-03, 2024-W09, 2024-03-01.")
    release_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.release.id"),
                                            primary_key=True, comment="The vintage.")
    period_start: Mapped[dt.date] = mapped_column(Date, comment="First day of the period.")
    value: Mapped[float | None] = mapped_column(Double, comment="The value; NULL: missing.")
    status: Mapped[str | None] = mapped_column(
        String(8), comment="Observation status (A normal, P provisional, E estimated, F "
        "forecast, ...) from the structure's OBS_STATUS code list.")
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default="{}", comment="Other observation-level attribute values.")
