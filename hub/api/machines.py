"""Machines as each workshop knows them: the list and one machine with its reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from hub.deps import HubDep, Person, visible_machine, workshop_scope
from hub.store import ReportFilter

router = APIRouter(prefix="/api/v1/machines", tags=["machines"])


@router.get("")
def list_machines(hub: HubDep, person: Person) -> list[dict[str, Any]]:
    return hub.store.machines(workshop_scope(person))


@router.get("/{machine_id}", responses={404: {"description": "no such machine"}})
def get_machine(machine_id: str, hub: HubDep, person: Person) -> dict[str, Any]:
    machine = visible_machine(hub, person, machine_id)
    if machine is None:
        raise HTTPException(404, "no such machine")
    machine["reports"] = hub.store.find_reports(ReportFilter(
        machine_id=machine["machine_id"], workshop_id=workshop_scope(person)))
    return machine
