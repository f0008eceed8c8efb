"""The hub's tables (SQLAlchemy 2). Migrations in hub/migrations create and change them."""

from __future__ import annotations

import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

KEY_CURRENT, KEY_RETIRED, KEY_REVOKED = "current", "retired", "revoked"
ROLE_ADMIN, ROLE_WORKSHOP = "admin", "workshop"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Base(DeclarativeBase):
    pass


class Workshop(Base):
    __tablename__ = "workshops"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    # Only the hash of the one-time enrollment token is kept; `token_used` once a key took it.
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_used: Mapped[bool] = mapped_column(Boolean, default=False)
    # After this a token enrolls nothing (None: a token from before migration 0004).
    token_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StationKey(Base):
    __tablename__ = "station_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=KEY_CURRENT)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    __tablename__ = "web_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Report(Base):
    __tablename__ = "reports"
    report_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Canonical JSON of the DSSE envelope; the report itself is its payload (base64), kept
    # once: reading it back is a base64 decoding, storing it twice doubled every write.
    envelope: Mapped[str] = mapped_column(Text)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    system_serial: Mapped[str | None] = mapped_column(String(200), index=True)
    asset_id: Mapped[str | None] = mapped_column(String(200), index=True)
    machine_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    # Summaries kept as columns so that totals and lists need not parse every payload.
    outcome: Mapped[str | None] = mapped_column(String(40))
    disks_total: Mapped[int] = mapped_column(Integer, default=0)
    disks_erased: Mapped[int] = mapped_column(Integer, default=0)
    reused: Mapped[bool] = mapped_column(Boolean, default=False)
    methods: Mapped[str] = mapped_column(String(400), default="")  # space-separated, per disk


Index("ix_reports_created_at", Report.created_at)


# A machine as one workshop knows it (migration 0003): a PC that passes through two workshops
# has a row and a history in each, and no station can change what another workshop sees.
# `workshop_key` is the workshop's id, 0 for stations without a workshop (a key needs a value).
NO_WORKSHOP_KEY = 0


class Machine(Base):
    __tablename__ = "machines"
    workshop_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"), index=True)
    asset_id: Mapped[str | None] = mapped_column(String(200))
    system_serial: Mapped[str | None] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(200))
    product: Mapped[str | None] = mapped_column(String(200))
    latest_report_id: Mapped[str] = mapped_column(String(36))
    latest_created_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LiveState(Base):
    __tablename__ = "live_states"
    workshop_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    step: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
