"""The hub's storage operations: stations and keys, reports, machines, live states, people.

Each public method is one transaction. The web layer (hub/api/, hub/pages/) and the CLI
(hub/cli.py) both go through here; nothing else writes to the database.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.report.bootcredential import normal_mac
from hub import models
from hub.database import Checkpointer, database_url, is_sqlite, make_engine, migrate
from hub.models import (
    ARMED_COUNTDOWN,
    ARMED_OFFERED,
    ARMED_REPORTED_STATES,
    ARMED_WAITING,
    ENROLLMENT_APPROVAL,
    ENROLLMENT_AUTOMATIC,
    ENROLLMENT_MODES,
    JOIN_ACCEPTED,
    JOIN_PENDING,
    JOIN_REFUSED,
    KEY_CURRENT,
    KEY_RETIRED,
    KEY_REVOKED,
    STATION_KIND_BOOT_SERVICE,
    STATION_KIND_NETBOOTED,
    STATION_KIND_STICK,
    STATION_KINDS,
    ApiToken,
    ArmedMachine,
    Arming,
    BootEnrollment,
    BootJoinRequest,
    LiveState,
    Machine,
    Person,
    Report,
    Station,
    StationKey,
    WebSession,
    Workshop,
    utcnow,
)

if TYPE_CHECKING:
    from agent.report.bootcredential import BootClaims

SESSION_LIFETIME = datetime.timedelta(hours=12)
# An enrollment token is used within days of being given to a workshop; after that it is more
# likely lost than still needed.
TOKEN_LIFETIME = datetime.timedelta(days=7)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


class StoreError(Exception):
    """A request the store refuses (a name taken, something unknown); the message says which."""


class StoreForbidden(StoreError):
    """A refusal for want of a right rather than a conflict: a boot credential already used, a
    revoked station or boot service (the API answers 403 where other refusals are 409)."""


class AwaitingApproval(Exception):
    """A network-booted machine whose boot service asks for approval is not enrolled yet: its
    request waits for a person of the workshop on the live board (Store.enroll_booted).

    `station` is the name it will enroll as; `first` says whether this ask made the request
    (the ones after it are the machine asking again)."""

    def __init__(self, station: str, *, first: bool) -> None:
        super().__init__(station)
        self.station = station
        self.first = first


REFUSED_BY_WORKSHOP = ("refused by the workshop: a person of the workshop refused this machine "
                       "on the hub's live board")


@dataclass(frozen=True)
class JoinRequestRow:
    """A machine asking to join, as the live board lists it: what the credential says of it
    (its MAC address, firmware UUID, the address it asked the boot service from), the address
    the hub saw it ask from, and when."""

    id: int
    station: str
    mac: str
    uuid: str
    ip: str
    ip_seen: str
    asked_at: datetime.datetime
    expires_at: datetime.datetime
    status: str


@dataclass(frozen=True)
class StationRow:
    """A station with its current key (None before enrollment or after revocation)."""

    id: int
    name: str
    public_key: bytes | None
    key_id: str | None
    workshop_id: int | None = None
    revoked: bool = False


@dataclass(frozen=True)
class SigningKey:
    """A key found by its id, with the state of the key and of its station."""

    key_id: str
    public_key: bytes
    status: str
    station_id: int
    station_name: str
    workshop_id: int | None
    station_revoked: bool
    station_kind: str = STATION_KIND_STICK


@dataclass(frozen=True)
class BoardStation:
    """A station as the live board's actions need it: a network-booted machine's `mac` is the
    network card it boots from (None for other kinds, or when the hub cannot tell)."""

    name: str
    kind: str
    workshop_id: int | None
    mac: str | None


@dataclass(frozen=True)
class PersonRow:
    id: int
    email: str
    role: str
    workshop_id: int | None
    workshop_name: str | None


@dataclass(frozen=True)
class ReportColumns:
    """What the hub keeps beside a verified report to find and count it."""

    report_id: str
    machine_id: str
    system_serial: str | None
    asset_id: str | None
    created_at: datetime.datetime | None
    outcome: str | None
    disks_total: int
    disks_erased: int
    reused: bool
    methods: str
    vendor: str | None
    product: str | None


@dataclass(frozen=True)
class ReportFilter:
    serial: str | None = None
    asset_id: str | None = None
    machine_id: str | None = None
    station: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    workshop_id: int | None = None  # None: every workshop (an administrator)
    limit: int = 500
    offset: int = 0


class Store:
    def __init__(self, database: str | Path, *, apply_migrations: bool = True,
                 pool_size: int = 10) -> None:
        self.url = database_url(database)
        if apply_migrations:
            migrate(self.url)
        self.engine: Engine = make_engine(self.url, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = WriteLock(self.url) if is_sqlite(self.url) else None
        self._checkpointer = Checkpointer(self.url) \
            if is_sqlite(self.url) and ":memory:" not in self.url else None
        # Single reads need no transaction: no BEGIN and ROLLBACK round trips around them.
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._insert = sqlite.insert if is_sqlite(self.url) else postgresql.insert
        self._prepare_ingest_statements()

    def _prepare_ingest_statements(self) -> None:
        """Statements of the ingest path, built once: a request only binds its values.

        Building a statement per request (and its cache key) cost more than the database.
        """
        tables = models.Base.metadata.tables
        reports, machines = tables["reports"], tables["machines"]
        self._insert_report = self._insert(reports).on_conflict_do_nothing(
            index_elements=["report_id"]).returning(reports.c.report_id)
        self._stored_sha256 = select(reports.c.envelope_sha256).where(
            reports.c.report_id == bindparam("report_id"))
        upsert = self._insert(machines)
        replaced = ("workshop_id", "asset_id", "system_serial", "vendor", "product",
                    "latest_report_id", "latest_created_at", "updated_at")
        # A report that waited in an outbox must not replace a newer one as the latest.
        newer = machines.c.latest_created_at.is_(None) | (
            upsert.excluded.latest_created_at.is_not(None)
            & (machines.c.latest_created_at <= upsert.excluded.latest_created_at))
        self._upsert_machine = upsert.on_conflict_do_update(
            index_elements=["workshop_key", "machine_id"],
            set_={name: upsert.excluded[name] for name in replaced}, where=newer)
        self._signing_key = (
            select(StationKey.key_id, StationKey.public_key, StationKey.status,
                   Station.id, Station.name, Station.workshop_id, Station.revoked_at,
                   Station.kind)
            .join(Station, Station.id == StationKey.station_id)
            .where(StationKey.key_id == bindparam("key_id")))
        links = tables["public_passports"]
        # Nothing when the machine has a live link: the partial unique index on live links.
        self._insert_public_link = self._insert(links).on_conflict_do_nothing(
            index_elements=["workshop_key", "machine_id"],
            index_where=links.c.revoked_at.is_(None)).returning(links.c.token)
        self._live_public_token = select(links.c.token).where(
            links.c.workshop_key == bindparam("workshop_key"),
            links.c.machine_id == bindparam("machine_id"), links.c.revoked_at.is_(None))
        live = tables["live_states"]
        live_upsert = self._insert(live)
        self._upsert_live = live_upsert.on_conflict_do_update(
            index_elements=["workshop_key", "machine_id"],
            set_={name: live_upsert.excluded[name] for name in
                  ("workshop_id", "station_id", "step", "payload", "updated_at")})

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()

    def _writing(self) -> AbstractContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- workshops and stations -------------------------------------------------------------

    def add_workshop(self, name: str) -> int:
        try:
            with self.session() as session:
                workshop = Workshop(name=name)
                session.add(workshop)
                session.flush()
                return workshop.id
        except IntegrityError as error:
            raise StoreError(f"workshop {name!r} already exists") from error

    def workshop_id(self, name: str) -> int | None:
        with self.session() as session:
            return session.scalar(select(Workshop.id).where(Workshop.name == name))

    def workshop_name(self, workshop_id: int | None) -> str | None:
        if workshop_id is None:
            return None
        with self._reader.connect() as connection:
            return connection.scalar(select(Workshop.name).where(Workshop.id == workshop_id))

    def workshops(self) -> list[tuple[int, str]]:
        with self.session() as session:
            return [(row.id, row.name) for row in
                    session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name))]

    def add_station(self, name: str, workshop: str | None = None, *,
                    valid_for: datetime.timedelta = TOKEN_LIFETIME,
                    kind: str = STATION_KIND_STICK,
                    enrollment: str = ENROLLMENT_AUTOMATIC) -> str:
        """Create a station and return its one-time enrollment token (only its hash is kept),
        good for `valid_for`. A boot service needs a workshop: the machines it boots join it,
        at once or, with `enrollment` ENROLLMENT_APPROVAL, once a person accepted each one."""
        if kind not in STATION_KINDS:
            raise StoreError(f"no station kind {kind!r}")
        if kind == STATION_KIND_BOOT_SERVICE and workshop is None:
            raise StoreError("a boot service belongs to a workshop: name one")
        _check_enrollment(kind, enrollment)
        token = secrets.token_urlsafe(24)
        try:
            with self.session() as session:
                workshop_id = None
                if workshop is not None:
                    workshop_id = session.scalar(select(Workshop.id).where(
                        Workshop.name == workshop))
                    if workshop_id is None:
                        raise StoreError(f"no workshop named {workshop!r}")
                session.add(Station(name=name, workshop_id=workshop_id,
                                    token_sha256=sha256_hex(token), token_used=False,
                                    token_expires_at=utcnow() + valid_for, kind=kind,
                                    enrollment=enrollment))
        except IntegrityError as error:
            raise StoreError(f"station {name!r} already exists") from error
        return token

    def new_station_token(self, name: str, *,
                          valid_for: datetime.timedelta = TOKEN_LIFETIME) -> str:
        """A fresh one-time token, e.g. after revocation so the station enrolls a new key."""
        token = secrets.token_urlsafe(24)
        with self.session() as session:
            station = session.scalar(select(Station).where(Station.name == name))
            if station is None:
                raise StoreError(f"no station named {name!r}")
            station.token_sha256, station.token_used = sha256_hex(token), False
            station.token_expires_at = utcnow() + valid_for
            station.revoked_at = None  # keys stay revoked; the new token brings a new key
        return token

    def station_kind(self, name: str) -> str | None:
        """The station's kind (STATION_KINDS), None when there is no such station."""
        with self._reader.connect() as connection:
            return connection.scalar(select(Station.kind).where(Station.name == name))

    def set_enrollment(self, name: str, enrollment: str) -> None:
        """How the machines the boot service `name` boots join its workshop from now on:
        ENROLLMENT_AUTOMATIC or ENROLLMENT_APPROVAL. Machines already asking keep asking and
        are enrolled at their next ask once the service no longer asks for approval; a refused
        one stays refused. StoreError for no such station or one that is not a boot service."""
        with self._writing(), self.session() as session:
            station = session.scalar(select(Station).where(Station.name == name)
                                     .with_for_update())
            if station is None:
                raise StoreError(f"no station named {name!r}")
            if station.kind != STATION_KIND_BOOT_SERVICE:
                raise StoreError(f"station {name!r} is not a boot service: only a boot "
                                 "service's machines enroll by themselves")
            _check_enrollment(station.kind, enrollment)
            station.enrollment = enrollment

    def revoke_station(self, name: str) -> bool:
        """Refuse every key of the station from now on; False when there is no such station."""
        with self.session() as session:
            station = session.scalar(select(Station).where(Station.name == name))
            if station is None:
                return False
            station.revoked_at = utcnow()
            station.token_sha256, station.token_used = None, True
            session.execute(update(StationKey).where(StationKey.station_id == station.id)
                            .values(status=KEY_REVOKED))
        return True

    def station_by_token(self, token: str) -> StationRow | None:
        with self.session() as session:
            station = session.scalar(select(Station).where(
                Station.token_sha256 == sha256_hex(token)))
            return self._station_row(session, station) if station else None

    def station_by_name(self, name: str) -> StationRow | None:
        with self.session() as session:
            station = session.scalar(select(Station).where(Station.name == name))
            return self._station_row(session, station) if station else None

    def _station_row(self, session: Session, station: Station) -> StationRow:
        key = session.scalar(select(StationKey).where(
            StationKey.station_id == station.id, StationKey.status == KEY_CURRENT))
        return StationRow(station.id, station.name, key.public_key if key else None,
                          key.key_id if key else None, station.workshop_id,
                          station.revoked_at is not None)

    def stations(self) -> list[dict[str, Any]]:
        with self.session() as session:
            rows = session.execute(
                select(Station, Workshop.name).outerjoin(Workshop,
                                                         Workshop.id == Station.workshop_id)
                .order_by(Station.name)).all()
            keys = session.execute(select(StationKey).order_by(StationKey.created_at)).scalars()
            by_station: dict[int, list[dict[str, Any]]] = {}
            for key in keys:
                by_station.setdefault(key.station_id, []).append(
                    {"key_id": key.key_id, "status": key.status,
                     "created_at": key.created_at.isoformat()})
            return [{"name": station.name, "workshop": workshop, "kind": station.kind,
                     "enrollment": station.enrollment
                     if station.kind == STATION_KIND_BOOT_SERVICE else None,
                     "revoked": station.revoked_at is not None,
                     "keys": by_station.get(station.id, [])} for station, workshop in rows]

    def enroll(self, token: str, public_key: bytes, key_id: str) -> tuple[str, bool]:
        """(station name, created) for the token's station; StoreError when refused.

        The same key presenting the same token again is fine (its acknowledgement was lost);
        another key with a used token is not.
        """
        with self.session() as session:
            station = session.scalar(select(Station).where(
                Station.token_sha256 == sha256_hex(token)).with_for_update())
            if station is None:
                raise LookupError("unknown enrollment token")
            existing = session.scalar(select(StationKey).where(StationKey.key_id == key_id))
            expires = station.token_expires_at
            if not station.token_used and expires is not None and _aware(expires) < utcnow():
                raise LookupError("this enrollment token has expired: ask for a new one")
            if station.token_used:
                if existing is not None and existing.station_id == station.id \
                        and existing.status == KEY_CURRENT:
                    return station.name, False
                raise StoreError("this enrollment token was already used")
            if existing is not None:
                raise StoreError("this key is already enrolled")
            session.execute(update(StationKey).where(
                StationKey.station_id == station.id, StationKey.status == KEY_CURRENT)
                .values(status=KEY_RETIRED, retired_at=utcnow()))
            session.add(StationKey(station_id=station.id, key_id=key_id, public_key=public_key,
                                   status=KEY_CURRENT))
            station.token_used = True
            return station.name, True

    def enroll_booted(self, claims: BootClaims, public_key: bytes, key_id: str,
                      ip_seen: str) -> tuple[str, bool]:
        """(station name, created) for a machine that enrolls with a boot credential whose
        signature, expiry and machine the caller checked (hub/api/netboot.py).

        In one transaction: the boot service is looked at again, locked (a revocation either
        comes before and refuses this, or waits for it); the credential's nonce is recorded,
        once (the same key presenting it again is a lost acknowledgement: created False); the
        machine's station is made the first time, "netbooted", in the boot service's workshop;
        the new key becomes its current key and the one before is retired (a machine booted
        again enrolls a new key, and its earlier reports still verify). StoreForbidden for a
        used credential or a revoked signer or station, StoreError for a name taken otherwise.

        When the boot service asks for approval, the machine is enrolled only once a person of
        the workshop accepted its request (`decide_join`): until then AwaitingApproval, and the
        request is recorded the first time (the same key asking again is the same request,
        another key is refused as for a used credential); StoreForbidden once it was refused.
        """
        try:
            name, outcome = self._enroll_booted(claims, public_key, key_id, ip_seen)
        except IntegrityError:
            # Another enrollment committed a row this one also wrote (the nonce, the new
            # station's name, the key, the request to join) between this one's reads and its
            # writes: read again, it is seen, and this one is answered as if it had come second.
            try:
                name, outcome = self._enroll_booted(claims, public_key, key_id, ip_seen)
            except IntegrityError as error:
                raise StoreError("another enrollment changed this station at the same "
                                 "moment: try again") from error
        if outcome in (_ASKED_FIRST, _ASKED_AGAIN):
            raise AwaitingApproval(name, first=outcome == _ASKED_FIRST)
        return name, outcome == _ENROLLED

    def _enroll_booted(self, claims: BootClaims, public_key: bytes, key_id: str,
                       ip_seen: str) -> tuple[str, str]:
        now = utcnow()
        with self._writing(), self.session() as session:
            found = session.execute(
                select(StationKey, Station).join(Station, Station.id == StationKey.station_id)
                .where(StationKey.key_id == claims.key_id).with_for_update(of=Station)).first()
            if found is None:
                raise StoreForbidden(UNKNOWN_BOOT_KEY)
            signer, service = found
            problem = boot_signer_problem(SigningKey(
                signer.key_id, signer.public_key, signer.status, service.id, service.name,
                service.workshop_id, service.revoked_at is not None, service.kind),
                claims.boot_service)
            if problem is not None:
                raise StoreForbidden(problem)
            used = session.scalar(select(BootEnrollment).where(
                BootEnrollment.nonce == claims.nonce))
            if used is not None:
                name = session.scalar(select(Station.name).join(
                    StationKey, StationKey.station_id == Station.id).where(
                    StationKey.key_id == key_id, StationKey.status == KEY_CURRENT,
                    Station.id == used.station_id, Station.revoked_at.is_(None)))
                if used.key_id == key_id and name is not None:
                    return name, _REPEATED
                raise StoreForbidden("this boot credential was already used")
            if session.scalar(select(StationKey.id).where(StationKey.key_id == key_id)):
                raise StoreError("this key is already enrolled")
            station = session.scalar(select(Station).where(Station.name == claims.station)
                                     .with_for_update())
            if station is not None:
                if station.revoked_at is not None:
                    raise StoreForbidden(f"station {claims.station!r} was revoked")
                if station.kind != STATION_KIND_NETBOOTED:
                    raise StoreError(f"station {claims.station!r} exists and is not a "
                                     "network-booted station")
                if station.workshop_id != service.workshop_id:
                    raise StoreError(f"station {claims.station!r} belongs to another workshop")
            # Checked before the request is recorded: a person is never asked to accept a
            # machine whose enrollment would then be refused.
            waiting = _join_request_outcome(session, service, claims, key_id, ip_seen, now)
            if waiting is not None:
                return claims.station, waiting
            if station is None:
                station = Station(name=claims.station, workshop_id=service.workshop_id,
                                  token_sha256=None, token_used=True,
                                  kind=STATION_KIND_NETBOOTED)
                session.add(station)
                session.flush()
            # A new boot: what the board asked of the machine's previous run is done with.
            station.power_off_at_end = False
            if service.workshop_id is not None:
                _arm_on_enrollment(session, service.workshop_id, station.id,
                                   _normal_mac(claims.mac), now)
            session.execute(update(StationKey).where(
                StationKey.station_id == station.id, StationKey.status == KEY_CURRENT)
                .values(status=KEY_RETIRED, retired_at=now))
            session.add(StationKey(station_id=station.id, key_id=key_id, public_key=public_key,
                                   status=KEY_CURRENT, created_at=now))
            session.add(BootEnrollment(nonce=claims.nonce, boot_service_id=service.id,
                                       station_id=station.id, key_id=key_id, mac=claims.mac,
                                       uuid=claims.uuid, ip=claims.ip, ip_seen=ip_seen,
                                       created_at=now))
            session.flush()  # the unique indexes speak here, inside the try of the caller
            return station.name, _ENROLLED

    def join_requests(self, workshop_id: int) -> list[JoinRequestRow]:
        """The workshop's machines asking to join that a person may still accept: pending,
        their credential not expired; the oldest ask first."""
        with self._reader.connect() as connection:
            rows = connection.execute(
                select(BootJoinRequest).where(
                    BootJoinRequest.workshop_id == workshop_id,
                    BootJoinRequest.status == JOIN_PENDING,
                    BootJoinRequest.expires_at > utcnow())
                .order_by(BootJoinRequest.asked_at, BootJoinRequest.id)).all()
        return [_join_request_row(row) for row in rows]

    def decide_join(self, workshop_id: int, request_id: int, accept: bool,
                    decided_by: str) -> tuple[str, JoinRequestRow] | None:
        """A person of the workshop accepts or refuses a machine asking to join: (outcome,
        the request). The outcome is JOIN_ACCEPTED or JOIN_REFUSED when this decided it,
        "expired" when its credential expired first (it can no longer be accepted: the machine
        must start again), "decided" when someone decided it before. None when the workshop has
        no such request. The decision is one conditional update: two people clicking at once
        cannot both decide."""
        now = utcnow()
        with self._writing(), self.session() as session:
            decided = session.execute(
                update(BootJoinRequest).where(
                    BootJoinRequest.id == request_id,
                    BootJoinRequest.workshop_id == workshop_id,
                    BootJoinRequest.status == JOIN_PENDING,
                    BootJoinRequest.expires_at > now)
                .values(status=JOIN_ACCEPTED if accept else JOIN_REFUSED,
                        decided_by=decided_by[:320], decided_at=now)
                .execution_options(synchronize_session=False))
            request = session.scalar(select(BootJoinRequest).where(
                BootJoinRequest.id == request_id, BootJoinRequest.workshop_id == workshop_id))
            if request is None:
                return None
            row = _join_request_row(request)
            if getattr(decided, "rowcount", 0) == 1:
                return row.status, row
            return ("expired" if row.status == JOIN_PENDING else "decided"), row

    def signing_key(self, key_id: str) -> SigningKey | None:
        with self._reader.connect() as connection:
            row = connection.execute(self._signing_key, {"key_id": key_id}).first()
        if row is None:
            return None
        return SigningKey(row[0], bytes(row[1]), row[2], row[3], row[4], row[5],
                          row[6] is not None, row[7])

    def rotate(self, station_id: int, old_key_id: str, new_key: bytes, new_key_id: str) -> bool:
        """Retire the current key and make the new one current; False if the old one is not."""
        with self.session() as session:
            old = session.scalar(select(StationKey).where(
                StationKey.key_id == old_key_id, StationKey.station_id == station_id)
                .with_for_update())
            if old is None or old.status != KEY_CURRENT:
                return False
            if session.scalar(select(StationKey.id).where(StationKey.key_id == new_key_id)):
                raise StoreError("the new key is already known")
            old.status, old.retired_at = KEY_RETIRED, utcnow()
            session.add(StationKey(station_id=station_id, key_id=new_key_id,
                                   public_key=new_key, status=KEY_CURRENT))
        return True

    # -- reports ----------------------------------------------------------------------------

    def add_report(self, signer: SigningKey, columns: ReportColumns, envelope: str,
                   envelope_sha256: str, *, public_link: bool = False) -> tuple[str, str | None]:
        """"stored", "already stored" (same content) or "conflict" (other content, same id), and
        with `public_link` the token of the machine's public link, made in the same transaction
        when it has none yet (a transaction of its own would cost SQLite a third of its
        ingest)."""
        now = utcnow()
        with self._writing(), self.engine.begin() as connection:
            inserted = connection.execute(self._insert_report, {
                "report_id": columns.report_id, "station_id": signer.station_id,
                "workshop_id": signer.workshop_id, "key_id": signer.key_id, "received_at": now,
                "envelope": envelope, "envelope_sha256": envelope_sha256,
                "system_serial": columns.system_serial, "asset_id": columns.asset_id,
                "machine_id": columns.machine_id, "created_at": columns.created_at,
                "outcome": columns.outcome, "disks_total": columns.disks_total,
                "disks_erased": columns.disks_erased, "reused": columns.reused,
                "methods": columns.methods,
            }).first()
            if inserted is None:
                stored = connection.scalar(self._stored_sha256,
                                           {"report_id": columns.report_id})
                if stored != envelope_sha256:
                    return "conflict", None
                return "already stored", self._live_link(
                    connection, signer, columns.machine_id, now) if public_link else None
            connection.execute(self._upsert_machine, {
                "workshop_key": _workshop_key(signer),
                "machine_id": columns.machine_id, "workshop_id": signer.workshop_id,
                "asset_id": columns.asset_id, "system_serial": columns.system_serial,
                "vendor": columns.vendor, "product": columns.product,
                "latest_report_id": columns.report_id,
                # The station's claim orders its reports (one that waited in an outbox does
                # not replace a newer one), capped at the hub's receive time: no claim puts a
                # report ahead of those received after it.
                "latest_created_at": min(columns.created_at, now) if columns.created_at
                else now,
                "updated_at": now,
            })
            return "stored", self._live_link(
                connection, signer, columns.machine_id, now) if public_link else None

    def _live_link(self, connection: Connection, signer: SigningKey, machine_id: str,
                   now: datetime.datetime) -> str:
        """The workshop machine's live public link, made now if it has none."""
        made = connection.scalar(self._insert_public_link, {
            "workshop_key": _workshop_key(signer), "machine_id": machine_id,
            "token": secrets.token_urlsafe(PUBLIC_TOKEN_BYTES), "created_at": now})
        if made is not None:
            return str(made)
        return str(connection.scalar(self._live_public_token, {
            "workshop_key": _workshop_key(signer), "machine_id": machine_id}))

    def report_count(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(Report)) or 0)

    def find_reports(self, where: ReportFilter) -> list[dict[str, Any]]:
        query = (select(Report.report_id, Station.name, Report.system_serial, Report.asset_id,
                        Report.machine_id, Report.created_at, Report.received_at,
                        Report.key_id, Report.outcome, Report.disks_total,
                        Report.disks_erased, Report.methods, Workshop.name)
                 .join(Station, Station.id == Report.station_id)
                 .outerjoin(Workshop, Workshop.id == Report.workshop_id))
        if where.serial:
            query = query.where(Report.system_serial == where.serial)
        if where.asset_id:
            query = query.where(Report.asset_id == where.asset_id)
        if where.machine_id:
            query = query.where(Report.machine_id == where.machine_id)
        if where.station:
            query = query.where(Station.name == where.station)
        if where.since:
            query = query.where(Report.created_at >= where.since)
        if where.until:
            query = query.where(Report.created_at < where.until)
        if where.workshop_id is not None:
            query = query.where(Report.workshop_id == where.workshop_id)
        query = query.order_by(Report.received_at.desc(), Report.report_id) \
            .limit(where.limit).offset(where.offset)
        keys = ("report_id", "station", "system_serial", "asset_id", "machine_id",
                "created_at", "received_at", "key_id", "outcome", "disks_total",
                "disks_erased", "methods", "workshop")
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found = []
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            for stamp in ("created_at", "received_at"):
                item[stamp] = _iso(item[stamp])
            item["methods"] = item["methods"].split()
            found.append(item)
        return found

    def reports(self) -> list[dict[str, Any]]:
        """Every report, newest first (with its payload), as tests and small tools read them."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Report.report_id, Station.name, Report.system_serial,
                       Report.received_at, Report.envelope)
                .join(Station, Station.id == Report.station_id)
                .order_by(Report.received_at.desc(), Report.report_id)).all()
        keys = ("report_id", "station", "system_serial", "received_at", "payload")
        return [{**dict(zip(keys, row, strict=True)), "received_at": _iso(row[3]),
                 "payload": payload_of(row[4])} for row in rows]

    def report(self, report_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Report.report_id, Station.name, Report.received_at, Report.envelope,
                       Report.key_id, StationKey.status,
                       StationKey.public_key, Report.workshop_id, Report.machine_id,
                       Workshop.name)
                .join(Station, Station.id == Report.station_id)
                .join(StationKey, StationKey.key_id == Report.key_id)
                .outerjoin(Workshop, Workshop.id == Report.workshop_id)
                .where(Report.report_id == report_id)).first()
        if row is None:
            return None
        keys = ("report_id", "station", "received_at", "envelope", "key_id", "key_status",
                "public_key", "workshop_id", "machine_id", "workshop")
        item = dict(zip(keys, row, strict=True))
        item["received_at"] = _iso(item["received_at"])
        item["payload"] = payload_of(item["envelope"])
        item["public_key"] = bytes(item["public_key"])
        return item

    # -- machines, live states, totals ------------------------------------------------------

    def machines(self, workshop_id: int | None = None,
                 machine_id: str | None = None) -> list[dict[str, Any]]:
        query = select(Machine, Workshop.name).outerjoin(
            Workshop, Workshop.id == Machine.workshop_id).order_by(Machine.updated_at.desc())
        if workshop_id is not None:
            query = query.where(Machine.workshop_id == workshop_id)
        if machine_id is not None:
            query = query.where(Machine.machine_id == machine_id)
        with self.session() as session:
            return [{
                "machine_id": machine.machine_id, "asset_id": machine.asset_id,
                "system_serial": machine.system_serial, "vendor": machine.vendor,
                "product": machine.product, "latest_report_id": machine.latest_report_id,
                "workshop_id": machine.workshop_id, "workshop": workshop,
                "updated_at": _iso(machine.updated_at),
            } for machine, workshop in session.execute(query).all()]

    def set_live_state(self, machine_id: str, signer: SigningKey, step: str,
                       payload: str) -> None:
        with self._writing(), self.engine.begin() as connection:
            connection.execute(self._upsert_live, {
                "workshop_key": _workshop_key(signer),
                "machine_id": machine_id, "workshop_id": signer.workshop_id,
                "station_id": signer.station_id, "step": step, "payload": payload,
                "updated_at": utcnow()})

    def live_states(self, workshop_id: int | None = None,
                    since: datetime.datetime | None = None) -> list[dict[str, Any]]:
        query = (select(LiveState.machine_id, LiveState.step, LiveState.payload,
                        LiveState.updated_at, Station.name, Workshop.name)
                 .join(Station, Station.id == LiveState.station_id)
                 .outerjoin(Workshop, Workshop.id == LiveState.workshop_id)
                 .order_by(Workshop.name, Station.name, LiveState.machine_id))
        if workshop_id is not None:
            query = query.where(LiveState.workshop_id == workshop_id)
        if since is not None:
            query = query.where(LiveState.updated_at >= since)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [{"machine_id": row[0], "step": row[1], "payload": row[2],
                 "updated_at": _iso(row[3]), "station": row[4], "workshop": row[5]}
                for row in rows]

    def report_summaries(self, workshop_id: int | None = None) -> Sequence[Any]:
        """(machine_id, created_at, received_at, reused, methods) of every report, for totals."""
        query = select(Report.machine_id, Report.created_at, Report.received_at,
                       Report.reused, Report.methods)
        if workshop_id is not None:
            query = query.where(Report.workshop_id == workshop_id)
        with self.engine.connect() as connection:
            return connection.execute(query).all()

    # -- arming unattended erasure (network-booted machines) --------------------------------

    def arm_machines(self, workshop_id: int, macs: Sequence[str],
                     expires_at: datetime.datetime, created_by: str) -> int:
        """Arm the workshop's network-booted machines that boot from these network cards, until
        `expires_at`; the arming's id. StoreError for a text that is not a MAC address (none
        is stored then) or a workshop that does not exist. The caller bounds the expiry."""
        try:
            wanted = list(dict.fromkeys(normal_mac(mac) for mac in macs))
        except ValueError as error:
            raise StoreError(str(error)) from error
        if not wanted:
            raise StoreError("name at least one MAC address")
        now = utcnow()
        with self._writing(), self.session() as session:
            arming = self._new_arming(session, workshop_id, expires_at, created_by, None, now)
            session.add_all(ArmedMachine(arming_id=arming.id, mac=mac, station_id=None,
                                         state=ARMED_WAITING, updated_at=now)
                            for mac in wanted)
            return arming.id

    def arm_next(self, workshop_id: int, count: int, expires_at: datetime.datetime,
                 created_by: str) -> int:
        """Arm the next `count` machines of the workshop that enroll from now until
        `expires_at` (each takes a place when it enrolls: `enroll_booted`); the arming's id."""
        if count < 1:
            raise StoreError("the number of machines to arm is 1 or more")
        with self._writing(), self.session() as session:
            return self._new_arming(session, workshop_id, expires_at, created_by, count,
                                    utcnow()).id

    def _new_arming(self, session: Session, workshop_id: int, expires_at: datetime.datetime,
                    created_by: str, count: int | None, now: datetime.datetime) -> Arming:
        if session.get(Workshop, workshop_id) is None:
            raise StoreError(f"no workshop {workshop_id}")
        arming = Arming(workshop_id=workshop_id, created_by=created_by[:320], created_at=now,
                        expires_at=expires_at, next_count=count, remaining=count)
        session.add(arming)
        session.flush()
        return arming

    def end_arming(self, workshop_id: int, arming_id: int) -> bool:
        """End the workshop's arming now (it is offered to no machine from then on); False when
        it is not the workshop's or had already ended."""
        now = utcnow()
        with self._writing(), self.session() as session:
            ended = session.execute(
                update(Arming).where(Arming.id == arming_id, Arming.workshop_id == workshop_id,
                                     Arming.expires_at > now)
                .values(expires_at=now).execution_options(synchronize_session=False))
            return bool(getattr(ended, "rowcount", 0))

    def active_armings(self, workshop_id: int) -> list[dict[str, Any]]:
        """The workshop's armings that have not expired, soonest end first, with how many
        machines each lists and how many of them reached each state."""
        now = utcnow()
        with self._reader.connect() as connection:
            armings = connection.execute(
                select(Arming.id, Arming.created_by, Arming.created_at, Arming.expires_at,
                       Arming.next_count, Arming.remaining)
                .where(Arming.workshop_id == workshop_id, Arming.expires_at > now)
                .order_by(Arming.expires_at, Arming.id)).all()
            counts = connection.execute(
                select(ArmedMachine.arming_id, ArmedMachine.state, func.count())
                .where(ArmedMachine.arming_id.in_([row[0] for row in armings]))
                .group_by(ArmedMachine.arming_id, ArmedMachine.state)).all()
        states: dict[int, dict[str, int]] = {}
        for arming_id, state, count in counts:
            states.setdefault(arming_id, {})[state] = int(count)
        return [{"id": row[0], "created_by": row[1], "created_at": _aware(row[2]),
                 "expires_at": _aware(row[3]), "next_count": row[4], "remaining": row[5],
                 "machines": sum(states.get(row[0], {}).values()),
                 "states": states.get(row[0], {})} for row in armings]

    def orders_for(self, signer: SigningKey) -> dict[str, Any]:
        """What the hub asks of a station in the answer to its progress:

        - "unattended": for a network-booted machine that its workshop armed (an unexpired
          arming lists the MAC address it booted from, or gave it one of its next-N places),
          {"arming": id, "expires_in_seconds": n}; None otherwise. Sent again at each progress
          until the machine reports what it did with it (an answer lost on the way must not
          lose the arming); after "countdown", "stopped" or "started", never again.
        - "power_off_at_end": whether the board asked the station to power off at the end.
        """
        now = utcnow()
        with self._reader.connect() as connection:
            power_off = bool(connection.scalar(select(Station.power_off_at_end).where(
                Station.id == signer.station_id)))
            if signer.station_kind != STATION_KIND_NETBOOTED or signer.workshop_id is None:
                return {"unattended": None, "power_off_at_end": power_off}
            mac = _station_mac(connection, signer.station_id, signer.station_name)
            if mac is None:
                return {"unattended": None, "power_off_at_end": power_off}
            found = connection.execute(
                select(ArmedMachine.id, ArmedMachine.state, ArmedMachine.station_id,
                       Arming.id, Arming.expires_at)
                .join(Arming, Arming.id == ArmedMachine.arming_id)
                .where(Arming.workshop_id == signer.workshop_id, ArmedMachine.mac == mac,
                       Arming.expires_at > now,
                       ArmedMachine.state.in_((ARMED_WAITING, ARMED_OFFERED)))
                .order_by(Arming.expires_at.desc(), Arming.id.desc())).first()
        if found is None:
            return {"unattended": None, "power_off_at_end": power_off}
        row_id, state, station_id, arming_id, expires_at = found
        if state != ARMED_OFFERED or station_id != signer.station_id:
            with self._writing(), self.engine.begin() as connection:
                offered = connection.execute(
                    update(ArmedMachine).where(
                        ArmedMachine.id == row_id,
                        ArmedMachine.state.in_((ARMED_WAITING, ARMED_OFFERED)))
                    .values(state=ARMED_OFFERED, station_id=signer.station_id,
                            updated_at=now))
                if not offered.rowcount:  # the machine answered in between
                    return {"unattended": None, "power_off_at_end": power_off}
        left = (_aware(expires_at) - now).total_seconds()
        return {"unattended": {"arming": arming_id, "expires_in_seconds": max(1, int(left))},
                "power_off_at_end": power_off}

    def record_arming_state(self, signer: SigningKey, arming_id: int, state: str) -> bool:
        """What a network-booted machine did with the arming it was offered: "countdown",
        "stopped" or "started". Changes only that arming's row of the MAC address the signing
        station booted from, in its own workshop, and only forward (a stopped or started
        machine stays so); anything else is ignored. Whether a row changed."""
        if state not in ARMED_REPORTED_STATES or signer.station_kind != STATION_KIND_NETBOOTED \
                or signer.workshop_id is None:
            return False
        earlier = (ARMED_WAITING, ARMED_OFFERED) if state == ARMED_COUNTDOWN \
            else (ARMED_WAITING, ARMED_OFFERED, ARMED_COUNTDOWN)
        with self._reader.connect() as connection:
            mac = _station_mac(connection, signer.station_id, signer.station_name)
        if mac is None:
            return False
        workshop_armings = select(Arming.id).where(Arming.workshop_id == signer.workshop_id)
        with self._writing(), self.engine.begin() as connection:
            changed = connection.execute(
                update(ArmedMachine).where(
                    ArmedMachine.arming_id == arming_id, ArmedMachine.mac == mac,
                    ArmedMachine.state.in_(earlier),
                    ArmedMachine.arming_id.in_(workshop_armings))
                .values(state=state, station_id=signer.station_id, updated_at=utcnow()))
            return bool(changed.rowcount)

    def set_power_off_at_end(self, workshop_id: int | None, station_names: Sequence[str],
                             value: bool) -> int:
        """Ask these stations of the workshop (None: any) to power off at the end of their run,
        or no longer; how many stations it changed."""
        query = update(Station).where(Station.name.in_(list(station_names)))
        if workshop_id is not None:
            query = query.where(Station.workshop_id == workshop_id)
        with self._writing(), self.session() as session:
            changed = session.execute(query.values(power_off_at_end=value)
                                      .execution_options(synchronize_session=False))
            return int(getattr(changed, "rowcount", 0))

    def board_stations(self, names: Sequence[str]) -> dict[str, BoardStation]:
        """The named stations (those that exist) with their kind, workshop and, for a
        network-booted machine, the MAC address it boots from."""
        with self._reader.connect() as connection:
            rows = connection.execute(
                select(Station.id, Station.name, Station.kind, Station.workshop_id)
                .where(Station.name.in_(list(names)))).all()
            return {name: BoardStation(
                name, kind, workshop_id,
                _station_mac(connection, station_id, name)
                if kind == STATION_KIND_NETBOOTED else None)
                for station_id, name, kind, workshop_id in rows}

    def board_machines(self, workshop_id: int | None,
                       since: datetime.datetime) -> list[dict[str, Any]]:
        """The live board's machines: the latest progress of each machine with news since
        `since`, ordered by station name (tiles never move), with its station's kind,
        power_off_at_end and, for a network-booted machine, the state of its arming for this
        boot ("waiting", "offered", "countdown", "stopped", "started"; None when unarmed)."""
        now = utcnow()
        query = (select(LiveState.machine_id, LiveState.step, LiveState.payload,
                        LiveState.updated_at, LiveState.workshop_id, Station.id, Station.name,
                        Station.kind, Station.power_off_at_end, Workshop.name)
                 .join(Station, Station.id == LiveState.station_id)
                 .outerjoin(Workshop, Workshop.id == LiveState.workshop_id)
                 .where(LiveState.updated_at >= since)
                 .order_by(Station.name, LiveState.machine_id))
        if workshop_id is not None:
            query = query.where(LiveState.workshop_id == workshop_id)
        with self._reader.connect() as connection:
            rows = connection.execute(query).all()
            netbooted = {row[5]: row[6] for row in rows if row[7] == STATION_KIND_NETBOOTED}
            boots = _latest_boots(connection, list(netbooted))
            macs = {station_id: boots[station_id][0] if station_id in boots
                    else _mac_in_name(name) for station_id, name in netbooted.items()}
            armed = connection.execute(
                select(ArmedMachine.id, ArmedMachine.mac, ArmedMachine.state,
                       ArmedMachine.updated_at, Arming.workshop_id, Arming.expires_at)
                .join(Arming, Arming.id == ArmedMachine.arming_id)
                .where(ArmedMachine.mac.in_([mac for mac in macs.values() if mac]))).all()
        machines = []
        for (machine_id, step, payload, updated_at, workshop, station_id, station, kind,
             power_off, workshop_name) in rows:
            mac = macs.get(station_id)
            booted = boots[station_id][1] if station_id in boots else None
            machines.append({
                "machine_id": machine_id, "step": step, "payload": payload,
                "updated_at": _aware(updated_at), "station": station, "station_kind": kind,
                "workshop_id": workshop, "workshop": workshop_name,
                "power_off_at_end": bool(power_off),
                "arming_state": _arming_state_now(armed, mac, workshop, booted, now),
            })
        return machines


    # -- people, sessions, API tokens -------------------------------------------------------

    def add_person(self, email: str, password_hash: str, role: str,
                   workshop: str | None) -> int:
        with self.session() as session:
            workshop_id = None
            if workshop is not None:
                workshop_id = session.scalar(select(Workshop.id).where(Workshop.name == workshop))
                if workshop_id is None:
                    raise StoreError(f"no workshop named {workshop!r}")
            if session.scalar(select(Person.id).where(Person.email == email)) is not None:
                raise StoreError(f"{email} already has an account")
            person = Person(email=email, password_hash=password_hash, role=role,
                            workshop_id=workshop_id)
            session.add(person)
            session.flush()
            return person.id

    def person_for_login(self, email: str) -> tuple[int, str] | None:
        with self.session() as session:
            row = session.execute(select(Person.id, Person.password_hash)
                                  .where(Person.email == email)).first()
            return (row[0], row[1]) if row else None

    def set_password_hash(self, person_id: int, password_hash: str) -> None:
        with self.session() as session:
            session.execute(update(Person).where(Person.id == person_id)
                            .values(password_hash=password_hash))

    def open_session(self, person_id: int) -> tuple[str, str]:
        """(session token for the cookie, CSRF token for the forms)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self.session() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            session.add(WebSession(token_sha256=sha256_hex(token), person_id=person_id,
                                   csrf_token=csrf, expires_at=now + SESSION_LIFETIME))
        return token, csrf

    def close_other_sessions(self, person_id: int, kept_token: str) -> None:
        """Every session of the person but this one (after a password change: whoever else
        knew the old password is signed out)."""
        with self.session() as session:
            session.execute(delete(WebSession).where(
                WebSession.person_id == person_id,
                WebSession.token_sha256 != sha256_hex(kept_token)))

    def close_session(self, token: str) -> None:
        with self.session() as session:
            session.execute(delete(WebSession).where(WebSession.token_sha256 == sha256_hex(token)))

    def person_for_session(self, token: str) -> tuple[PersonRow, str] | None:
        """The person and the session's CSRF token, while the session is open."""
        with self.session() as session:
            row = session.execute(
                select(WebSession.person_id, WebSession.csrf_token, WebSession.expires_at)
                .where(WebSession.token_sha256 == sha256_hex(token))).first()
            if row is None or _aware(row[2]) < utcnow():
                return None
            person = self._person(session, row[0])
            return (person, row[1]) if person else None

    def add_api_token(self, email: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.session() as session:
            person_id = session.scalar(select(Person.id).where(Person.email == email))
            if person_id is None:
                raise StoreError(f"no account for {email}")
            session.add(ApiToken(token_sha256=sha256_hex(token), person_id=person_id))
        return token

    def remove_person(self, email: str) -> bool:
        """The account, its sessions and its API tokens, gone; False when there is none."""
        with self.session() as session:
            person_id = session.scalar(select(Person.id).where(Person.email == email))
            if person_id is None:
                return False
            session.execute(delete(WebSession).where(WebSession.person_id == person_id))
            session.execute(delete(ApiToken).where(ApiToken.person_id == person_id))
            session.execute(delete(Person).where(Person.id == person_id))
        return True

    def revoke_api_tokens(self, email: str) -> int:
        """Every API token of the account stops working; how many there were."""
        with self.session() as session:
            person_id = session.scalar(select(Person.id).where(Person.email == email))
            if person_id is None:
                raise StoreError(f"no account for {email}")
            tokens = session.scalars(select(ApiToken.token_sha256).where(
                ApiToken.person_id == person_id)).all()
            session.execute(delete(ApiToken).where(ApiToken.person_id == person_id))
            return len(tokens)

    def person_for_api_token(self, token: str) -> PersonRow | None:
        with self.session() as session:
            person_id = session.scalar(select(ApiToken.person_id).where(
                ApiToken.token_sha256 == sha256_hex(token)))
            return self._person(session, person_id) if person_id is not None else None

    def _person(self, session: Session, person_id: int) -> PersonRow | None:
        row = session.execute(
            select(Person.id, Person.email, Person.role, Person.workshop_id, Workshop.name)
            .outerjoin(Workshop, Workshop.id == Person.workshop_id)
            .where(Person.id == person_id)).first()
        return PersonRow(*row) if row else None

    # -- public passports (the new owner's link) ---------------------------------------------

    def public_link(self, workshop_id: int | None, machine_id: str) -> str:
        """The token of the workshop machine's live public link, made on first need (when a
        signed-in person opens the passport, or a station is answered with the link)."""
        key = workshop_id if workshop_id is not None else models.NO_WORKSHOP_KEY
        link = models.PublicPassport
        live = select(link.token).where(link.workshop_key == key, link.machine_id == machine_id,
                                        link.revoked_at.is_(None))
        with self._reader.connect() as connection:
            token = connection.scalar(live)
        if token is not None:
            return str(token)
        try:
            with self.session() as session:
                token = secrets.token_urlsafe(PUBLIC_TOKEN_BYTES)
                session.add(link(workshop_key=key, machine_id=machine_id, token=token))
            return str(token)
        except IntegrityError:
            # Another request made one between the read and the write (the index on live links
            # refused the second): that one is the machine's link.
            with self._reader.connect() as connection:
                return str(connection.scalar(live))

    def renew_public_link(self, workshop_id: int | None, machine_id: str, token: str) -> bool:
        """Withdraw the machine's live link if it is `token`, and make a new one; False when
        `token` is not this workshop machine's live link (already withdrawn, or another's)."""
        key = workshop_id if workshop_id is not None else models.NO_WORKSHOP_KEY
        link = models.PublicPassport
        with self.session() as session:
            current = session.scalar(select(link).where(
                link.token == token, link.workshop_key == key, link.machine_id == machine_id,
                link.revoked_at.is_(None)).with_for_update())
            if current is None:
                return False
            current.revoked_at = utcnow()
            session.flush()  # out of the live links' unique index before its successor comes in
            session.add(link(workshop_key=key, machine_id=machine_id,
                             token=secrets.token_urlsafe(PUBLIC_TOKEN_BYTES)))
        return True

    def public_passport(self, token: str) -> PublicLink | None:
        """What a public link leads to: the machine's latest report and its workshop's name;
        None for a token never given out."""
        link, machine = models.PublicPassport, models.Machine
        query = (select(link.revoked_at, machine.latest_report_id, Workshop.name)
                 .join(machine, (machine.workshop_key == link.workshop_key)
                       & (machine.machine_id == link.machine_id))
                 .outerjoin(Workshop, Workshop.id == machine.workshop_id)
                 .where(link.token == token))
        with self._reader.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else PublicLink(row[1], row[2], row[0] is not None)


    # -- donors' lots and certificates ---------------------------------------------------------

    def latest_reports(self, workshop_id: int | None, column: str, values: Sequence[str], *,
                       since: datetime.datetime | None = None,
                       until: datetime.datetime | None = None) -> dict[str, list[str]]:
        """For each value of `column` ("asset_id" or "machine_id") asked, the latest report of
        each machine that carries it within the workshop (None: every workshop), optionally
        created in [since, until). Values without a report are left out.

        "Latest" is the passport's rule: the station's claimed creation time capped at the
        hub's receive time, so a clock set ahead cannot put an old report in front."""
        chosen = Report.asset_id if column == "asset_id" else Report.machine_id
        query = select(chosen, Report.workshop_id, Report.machine_id, Report.created_at,
                       Report.received_at, Report.report_id).where(chosen.in_(list(values)))
        if workshop_id is not None:
            query = query.where(Report.workshop_id == workshop_id)
        if since is not None:
            query = query.where(Report.created_at >= since)
        if until is not None:
            query = query.where(Report.created_at < until)
        with self._reader.connect() as connection:
            rows = connection.execute(query).all()
        best: dict[tuple[Any, int, str], tuple[Any, ...]] = {}
        for value, workshop, machine_id, created_at, received_at, report_id in rows:
            received = _aware(received_at)
            rank = (min(_aware(created_at), received) if created_at else received, received,
                    report_id)
            key = (value, workshop if workshop is not None else models.NO_WORKSHOP_KEY,
                   machine_id)
            if key not in best or rank > best[key]:
                best[key] = rank
        found: dict[str, list[str]] = {}
        for (value, _workshop, _machine), rank in sorted(best.items()):
            found.setdefault(value, []).append(rank[2])
        return found

    def reports_by_id(self, report_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Several stored reports at once, each as `report()` gives it (for a certificate that
        lists many machines: one query, not one per machine)."""
        if not report_ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Report.report_id, Station.name, Report.received_at, Report.envelope,
                       Report.key_id, StationKey.status, StationKey.public_key,
                       Report.workshop_id, Report.machine_id, Workshop.name)
                .join(Station, Station.id == Report.station_id)
                .join(StationKey, StationKey.key_id == Report.key_id)
                .outerjoin(Workshop, Workshop.id == Report.workshop_id)
                .where(Report.report_id.in_(list(report_ids)))).all()
        keys = ("report_id", "station", "received_at", "envelope", "key_id", "key_status",
                "public_key", "workshop_id", "machine_id", "workshop")
        found = {}
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["received_at"] = _iso(item["received_at"])
            item["payload"] = payload_of(item["envelope"])
            item["public_key"] = bytes(item["public_key"])
            found[item["report_id"]] = item
        return found

    def add_lot(self, workshop_id: int, name: str, donor: str, note: str | None,
                created_by: str) -> int:
        with self.session() as session:
            lot = models.Lot(workshop_id=workshop_id, name=name, donor=donor, note=note,
                             created_by=created_by)
            session.add(lot)
            session.flush()
            return lot.id

    def lots(self, workshop_id: int | None) -> list[dict[str, Any]]:
        """The workshop's lots (None: every workshop's), newest first, with their sizes."""
        lot, member = models.Lot, models.LotMember
        members = (select(member.lot_id, func.count(func.distinct(member.asset_id))
                          .label("machines")).group_by(member.lot_id).subquery())
        query = (select(lot, Workshop.name, func.coalesce(members.c.machines, 0))
                 .join(Workshop, Workshop.id == lot.workshop_id)
                 .outerjoin(members, members.c.lot_id == lot.id)
                 .order_by(lot.created_at.desc(), lot.id.desc()))
        if workshop_id is not None:
            query = query.where(lot.workshop_id == workshop_id)
        with self.session() as session:
            return [{**_lot_fields(found), "workshop": workshop, "machines": int(count)}
                    for found, workshop, count in session.execute(query).all()]

    def lot(self, lot_id: int) -> dict[str, Any] | None:
        """A lot with its members in the order they were entered; None when there is none."""
        lot, member = models.Lot, models.LotMember
        with self.session() as session:
            row = session.execute(select(lot, Workshop.name)
                                  .join(Workshop, Workshop.id == lot.workshop_id)
                                  .where(lot.id == lot_id)).first()
            if row is None:
                return None
            members = session.scalars(select(member).where(member.lot_id == lot_id)
                                      .order_by(member.id)).all()
            return {**_lot_fields(row[0]), "workshop": row[1], "members": [
                {"id": found.id, "asset_id": found.asset_id, "machine_id": found.machine_id,
                 "added_at": _iso(found.added_at)} for found in members]}

    def add_lot_members(self, lot_id: int, asset_ids: Sequence[str]) -> int:
        """Add asset ids to a lot (those already in it are skipped); each one the lot's
        workshop has reports of is tied to its machine's identity id (one member per machine
        when a sticker was used twice). How many asset ids were added."""
        member = models.LotMember
        with self.session() as session:
            workshop_id = session.scalar(select(models.Lot.workshop_id)
                                         .where(models.Lot.id == lot_id))
            if workshop_id is None:
                raise StoreError(f"no lot {lot_id}")
            present = set(session.scalars(select(member.asset_id)
                                          .where(member.lot_id == lot_id)))
            wanted = [asset_id for asset_id in dict.fromkeys(asset_ids)
                      if asset_id not in present]
            machines: dict[str, list[str | None]] = {}
            if wanted:
                for asset_id, machine_id in session.execute(
                        select(Report.asset_id, Report.machine_id).distinct()
                        .where(Report.workshop_id == workshop_id,
                               Report.asset_id.in_(wanted))
                        .order_by(Report.machine_id)):
                    machines.setdefault(str(asset_id), []).append(machine_id)
            for asset_id in wanted:
                for pinned in machines.get(asset_id) or [None]:
                    session.add(member(lot_id=lot_id, asset_id=asset_id, machine_id=pinned))
            return len(wanted)

    def remove_lot_member(self, lot_id: int, member_id: int) -> bool:
        with self.session() as session:
            removed = session.execute(delete(models.LotMember).where(
                models.LotMember.lot_id == lot_id, models.LotMember.id == member_id))
            return bool(getattr(removed, "rowcount", 0))


class WriteLock:
    """One writer at a time on an SQLite file, across threads and worker processes.

    SQLite lets a second writer wait by sleeping and retrying (1, 2, 5 ... 100 ms), which
    under load makes both slow; a lock file taken with flock wakes the next writer at once.
    """

    def __init__(self, url: str) -> None:
        path = url.split("///", 1)[1] if "///" in url else ""
        self._path = f"{path}.write-lock" if path and path != ":memory:" else None
        self._threads = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        if self._path is not None:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def payload_of(envelope: str) -> str:
    """The signed report inside a stored envelope (JSON text)."""
    return base64.b64decode(orjson.loads(envelope)["payload"]).decode()


def _aware(stamp: datetime.datetime) -> datetime.datetime:
    # SQLite hands back naive datetimes; every stamp the hub writes is UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


def _iso(stamp: datetime.datetime | None) -> str | None:
    return None if stamp is None else _aware(stamp).isoformat()


__all__ = ["Store", "StoreError", "models", "sha256_hex"]


UNKNOWN_BOOT_KEY = "the boot credential is signed by a key the hub does not know"


def boot_signer_problem(signer: SigningKey, boot_service: str) -> str | None:
    """Why this key may not sign a boot credential that names `boot_service` (in English, for
    the refusal), or None when it may: the current key of that boot service, not revoked."""
    if signer.station_kind != STATION_KIND_BOOT_SERVICE:
        return "the boot credential is not signed by a boot service"
    if signer.station_revoked or signer.status == KEY_REVOKED:
        return "the boot service that signed this credential was revoked"
    if signer.status != KEY_CURRENT:
        return "the boot credential is signed by a retired key of the boot service"
    if signer.station_name != boot_service:
        return "the boot credential names another boot service than the one whose key signed it"
    return None


def _check_enrollment(kind: str, enrollment: str) -> None:
    """StoreError unless `enrollment` is a mode, and approval is asked of a boot service only:
    only a boot service's machines enroll by themselves."""
    if enrollment not in ENROLLMENT_MODES:
        raise StoreError(f"no enrollment {enrollment!r}: {' or '.join(ENROLLMENT_MODES)}")
    if kind != STATION_KIND_BOOT_SERVICE and enrollment != ENROLLMENT_AUTOMATIC:
        raise StoreError("only a boot service's machines enroll by themselves: approval is "
                         "set on a boot service")


def _workshop_key(signer: SigningKey) -> int:
    """What a station may change is its own workshop's: the rows under this key."""
    return signer.workshop_id if signer.workshop_id is not None else models.NO_WORKSHOP_KEY


# A public link's token: 192 random bits, 32 characters in a URL (a QR code stays small).
PUBLIC_TOKEN_BYTES = 24


@dataclass(frozen=True)
class PublicLink:
    """Where a public link leads: the report to show, the workshop that gave the link, and
    whether the link was withdrawn since."""

    latest_report_id: str
    workshop: str | None
    withdrawn: bool


def _lot_fields(lot: models.Lot) -> dict[str, Any]:
    return {"id": lot.id, "workshop_id": lot.workshop_id, "name": lot.name, "donor": lot.donor,
            "note": lot.note, "created_at": _iso(lot.created_at), "created_by": lot.created_by}


def _normal_mac(text: str) -> str:
    try:
        return normal_mac(text)
    except ValueError:
        return text.strip().lower()  # kept as the checked credential gave it


_NAMED_MAC = re.compile(r"-([0-9a-f]{12})$")


def _mac_in_name(name: str) -> str | None:
    """The MAC address in a network-booted station's name, "<boot service>-<12 hex digits>"
    (hub/netboot/bootserver.py station_name): for a station with no recorded boot."""
    found = _NAMED_MAC.search(name.lower())
    if found is None:
        return None
    digits = found.group(1)
    return ":".join(digits[index:index + 2] for index in range(0, 12, 2))


def _station_mac(connection: Connection, station_id: int, name: str) -> str | None:
    """The MAC address a network-booted station last booted from: its latest enrollment's,
    else the one its name carries."""
    mac = connection.scalar(select(BootEnrollment.mac).where(
        BootEnrollment.station_id == station_id).order_by(BootEnrollment.id.desc()).limit(1))
    return _normal_mac(mac) if mac is not None else _mac_in_name(name)


def _latest_boots(connection: Connection,
                  station_ids: list[int]) -> dict[int, tuple[str, datetime.datetime]]:
    """station id -> (MAC address, time) of each station's latest enrollment by boot."""
    if not station_ids:
        return {}
    boots: dict[int, tuple[str, datetime.datetime]] = {}
    for station_id, mac, created_at in connection.execute(
            select(BootEnrollment.station_id, BootEnrollment.mac, BootEnrollment.created_at)
            .where(BootEnrollment.station_id.in_(station_ids)).order_by(BootEnrollment.id)):
        boots[station_id] = (_normal_mac(mac), _aware(created_at))
    return boots


def _arming_state_now(armed: Sequence[Any], mac: str | None, workshop_id: int | None,
                      booted: datetime.datetime | None, now: datetime.datetime) -> str | None:
    """The state of a network-booted machine's arming for its current boot: what it reported
    since it booted (countdown, stopped, started) before an arming still waiting for it."""
    best: tuple[bool, datetime.datetime, int] | None = None
    state_now = None
    for row_id, row_mac, state, updated_at, arming_workshop, expires_at in armed:
        if row_mac != mac or arming_workshop != workshop_id:
            continue
        updated = _aware(updated_at)
        reported = state in ARMED_REPORTED_STATES
        if reported and booted is not None and updated < booted:
            continue  # what an earlier boot of the machine did
        if not reported and _aware(expires_at) <= now:
            continue
        rank = (reported, updated, row_id)
        if best is None or rank > best:
            best, state_now = rank, state
    return state_now


# What _enroll_booted did: enrolled the machine, answered a repeat of an enrollment, or recorded
# (or found again) a machine's request to join that waits for a person.
_ENROLLED, _REPEATED, _ASKED_FIRST, _ASKED_AGAIN = "enrolled", "repeated", "asked", "asked again"


def _join_request_outcome(session: Session, service: Station, claims: BootClaims, key_id: str,
                          ip_seen: str, now: datetime.datetime) -> str | None:
    """Whether a machine whose enrollment passed every other check waits for a person:
    _ASKED_FIRST or _ASKED_AGAIN, or None when it enrolls now (its boot service does not ask
    for approval, or a person accepted it). StoreForbidden when a person refused it, or when
    another key presents the credential of a request."""
    asking = session.scalar(select(BootJoinRequest).where(
        BootJoinRequest.nonce == claims.nonce).with_for_update())
    if asking is not None:
        if asking.key_id != key_id:
            raise StoreForbidden("this boot credential was already used")
        if asking.status == JOIN_REFUSED:
            raise StoreForbidden(REFUSED_BY_WORKSHOP)
        if asking.status == JOIN_PENDING and service.enrollment == ENROLLMENT_APPROVAL:
            return _ASKED_AGAIN
        return None  # accepted, or the service no longer asks for approval
    if service.enrollment != ENROLLMENT_APPROVAL or service.workshop_id is None:
        return None
    session.add(BootJoinRequest(
        nonce=claims.nonce, boot_service_id=service.id, workshop_id=service.workshop_id,
        station=claims.station, key_id=key_id, mac=claims.mac, uuid=claims.uuid, ip=claims.ip,
        ip_seen=ip_seen, asked_at=now,
        # In UTC, as every stamp the hub writes: SQLite keeps no time zone.
        expires_at=datetime.datetime.fromisoformat(claims.expires_at).astimezone(datetime.UTC),
        status=JOIN_PENDING))
    session.flush()  # the nonce's unique index speaks here, inside the caller's retry
    return _ASKED_FIRST


def _join_request_row(request: Any) -> JoinRequestRow:
    return JoinRequestRow(request.id, request.station, request.mac, request.uuid, request.ip,
                          request.ip_seen, _aware(request.asked_at), _aware(request.expires_at),
                          request.status)


def _arm_on_enrollment(session: Session, workshop_id: int, station_id: int, mac: str,
                       now: datetime.datetime) -> None:
    """A network-booted machine enrolls: an unexpired arming of its workshop that lists its
    MAC address is tied to its station; otherwise it takes one place of a next-N arming, if one
    has places left. Taking a place is one conditional UPDATE: two machines enrolling at once
    cannot both take the last place (PostgreSQL makes the second wait for the first and sees
    none left; SQLite has one writer at a time)."""
    listed = session.scalars(
        select(ArmedMachine.id).join(Arming, Arming.id == ArmedMachine.arming_id)
        .where(Arming.workshop_id == workshop_id, Arming.expires_at > now,
               ArmedMachine.mac == mac)).all()
    if listed:
        session.execute(update(ArmedMachine).where(ArmedMachine.id.in_(listed),
                                                   ArmedMachine.station_id.is_(None))
                        .values(station_id=station_id)
                        .execution_options(synchronize_session=False))
        return
    with_places = session.scalars(
        select(Arming.id).where(Arming.workshop_id == workshop_id, Arming.expires_at > now,
                                Arming.remaining > 0)
        .order_by(Arming.expires_at, Arming.id)).all()
    for arming_id in with_places:
        taken = session.execute(
            update(Arming).where(Arming.id == arming_id, Arming.remaining > 0)
            .values(remaining=Arming.remaining - 1)
            .execution_options(synchronize_session=False))
        if getattr(taken, "rowcount", 0) == 1:
            session.add(ArmedMachine(arming_id=arming_id, mac=mac, station_id=station_id,
                                     state=ARMED_WAITING, updated_at=now))
            return
