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
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

KEY_CURRENT, KEY_RETIRED, KEY_REVOKED = "current", "retired", "revoked"
ROLE_ADMIN, ROLE_WORKSHOP = "admin", "workshop"
# What a station is (migration 0007): a stick (the first kind, hence its name), a workshop's boot
# service, whose key signs the boot credentials of the machines it boots (hub/netboot/), or a
# machine that enrolled with one of those credentials.
STATION_KIND_STICK = "station"
STATION_KIND_BOOT_SERVICE = "boot_service"
STATION_KIND_NETBOOTED = "netbooted"
STATION_KINDS = (STATION_KIND_STICK, STATION_KIND_BOOT_SERVICE, STATION_KIND_NETBOOTED)
# How a boot service's machines join its workshop (migration 0008): at once, with their boot
# credential alone, or once a person of the workshop accepted each one on the live board (a LAN
# shared with devices the workshop does not trust).
ENROLLMENT_AUTOMATIC, ENROLLMENT_APPROVAL = "automatic", "approval"
ENROLLMENT_MODES = (ENROLLMENT_AUTOMATIC, ENROLLMENT_APPROVAL)


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
    kind: Mapped[str] = mapped_column(String(16), default=STATION_KIND_STICK,
                                      server_default=STATION_KIND_STICK)
    # Set on the live board ("Power off at the end", migration 0008), told to the station in
    # the answer to its progress; a network-booted machine's is cleared when it boots again.
    power_off_at_end: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    # A boot service's ENROLLMENT_AUTOMATIC or ENROLLMENT_APPROVAL (other kinds keep the
    # default, which says nothing of them).
    enrollment: Mapped[str] = mapped_column(String(16), default=ENROLLMENT_AUTOMATIC,
                                            server_default=ENROLLMENT_AUTOMATIC)


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


class PublicPassport(Base):
    """A machine's public link for its new owner (migration 0005): `/p/<token>` shows what a new
    owner may see of the workshop's machine, to anyone holding the link.

    Keyed like machines (workshop_key, machine_id): each workshop gives out its own link. The
    token is kept as it is, not hashed: the signed-in passport shows its QR code every time it is
    opened (to print the sticker again), and the database that holds it holds the whole reports
    too, of which the public page shows a part. Withdrawing a link (`revoked_at`) makes a new
    one; at most one link per workshop machine is live, which the partial unique index below
    makes the database hold even when two requests create one at once."""

    __tablename__ = "public_passports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_key: Mapped[int] = mapped_column(Integer)
    machine_id: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


Index("ux_public_passports_live", PublicPassport.workshop_key, PublicPassport.machine_id,
      unique=True, sqlite_where=PublicPassport.revoked_at.is_(None),
      postgresql_where=PublicPassport.revoked_at.is_(None))


# A donor's lot (migration 0006): the machines a company or a family gave, listed by the asset
# ids the workshop stuck on them, for the donor's erasure certificate. A lot belongs to one
# workshop; people see and change their own workshop's lots (hub/deps.py's rule).
class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    donor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The account's e-mail address as text, not a key to people: removing an account must not
    # take its workshop's lots with it, nor be refused because of them.
    created_by: Mapped[str] = mapped_column(String(320))


class LotMember(Base):
    """One machine of a lot: the asset id as entered and, when the workshop's reports already
    named it then, the machine's identity id (`machine_id`), so that a sticker reused later for
    another PC does not change what the lot's certificate shows. An asset id entered before its
    machine was reported has none and is looked up by asset id when a certificate is made."""

    __tablename__ = "lot_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    asset_id: Mapped[str] = mapped_column(String(200))
    machine_id: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BootEnrollment(Base):
    """A boot credential that was used (migration 0007): which boot service gave it, which
    machine station and key enrolled with it, and the machine as the credential named it.

    The nonce's unique index is what makes a credential single-use, even when two requests
    present it at the same moment. `ip` is the address the boot service saw the machine ask
    from, `ip_seen` the one the hub saw the enrollment come from: behind NAT, or a regional hub
    reached across the Internet, they differ, and neither is a reason to refuse."""

    __tablename__ = "boot_enrollments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    boot_service_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(17))
    uuid: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    ip_seen: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# A machine asking to join a workshop whose boot service wants a person's approval
# (migration 0008): pending until a person of the workshop accepts or refuses it on the live
# board. Kept afterwards, as boot_enrollments are, for what was decided and by whom.
JOIN_PENDING, JOIN_ACCEPTED, JOIN_REFUSED = "pending", "accepted", "refused"


class BootJoinRequest(Base):
    """A valid boot credential presented to a boot service that asks for approval: the machine
    as the credential names it, the key that presented it (only that key may present it again,
    as with boot_enrollments), and the credential's expiry, after which it cannot be accepted.

    The machine's station is made only when the machine asks again after it was accepted, by
    the same code as an automatic enrollment (Store.enroll_booted). The nonce's unique index
    keeps one request per credential, even when two asks arrive at the same moment."""

    __tablename__ = "boot_join_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    boot_service_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    station: Mapped[str] = mapped_column(String(200))  # the name the machine would enroll as
    key_id: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(17))
    uuid: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    ip_seen: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=JOIN_PENDING)
    # The account's e-mail address as text, as armings keep theirs.
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


# Arming unattended erasure for network-booted machines (migration 0008). A network-booted machine
# is attended unless its workshop armed it on the hub: by its network card's MAC address (a
# listed arming) or as one of "the next N machines to start" (`next_count`, `remaining` places
# left; a machine takes a place when it enrolls). Every arming ends at `expires_at`.
ARMED_WAITING = "waiting"  # armed, not told to the machine yet
ARMED_OFFERED = "offered"  # told in an answer to its progress; told again until it answers
ARMED_COUNTDOWN = "countdown"  # the machine shows its countdown: a key there stops it
ARMED_STOPPED = "stopped"  # a person at the machine stopped it: never offered again
ARMED_STARTED = "started"  # the machine erases without a person
ARMED_REPORTED_STATES = (ARMED_COUNTDOWN, ARMED_STOPPED, ARMED_STARTED)


class Arming(Base):
    __tablename__ = "armings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    # The account's e-mail address, or "command line": text, so that removing an account
    # keeps the record of what it armed.
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    next_count: Mapped[int | None] = mapped_column(Integer)
    remaining: Mapped[int | None] = mapped_column(Integer)


class ArmedMachine(Base):
    """One machine of an arming, by the MAC address of the network card it booted from (lower
    case, colons); its station once known. One row per arming and MAC address."""

    __tablename__ = "armed_machines"
    __table_args__ = (UniqueConstraint("arming_id", "mac"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arming_id: Mapped[int] = mapped_column(ForeignKey("armings.id"), index=True)
    mac: Mapped[str] = mapped_column(String(17), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    state: Mapped[str] = mapped_column(String(16), default=ARMED_WAITING)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
