"""Scenarios for everyone to list; the admin API for operators to change them live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response

from gateway.catalog import CatalogError, LiveCatalog
from gateway.deps import AdminDep, PrincipalDep, ServicesDep
from scenarios.models import Persona, Scenario

router = APIRouter()


def get_catalog(services: ServicesDep) -> LiveCatalog:
    return LiveCatalog(services.store)


CatalogDep = Annotated[LiveCatalog, Depends(get_catalog)]


def _summary(scenario: Scenario, catalog_personas: dict[str, Persona]) -> dict[str, Any]:
    persona = catalog_personas.get(scenario.persona)
    return {"id": scenario.id, "kind": scenario.kind, "title": scenario.title.model_dump(),
            "goal": scenario.goal.model_dump(),
            "persona": persona.model_dump(mode="json") if persona else None,
            "rapport": scenario.rapport, "expected_register": scenario.expected_register.model_dump()}


@router.get("/scenarios")
async def list_scenarios(catalog: CatalogDep, _: PrincipalDep) -> dict[str, Any]:
    """Every scenario a session can pick, in Korean and English."""
    everything = await catalog.all()
    return {"scenarios": [_summary(s, everything.personas) for s in everything.scenarios.values()]}


@router.get("/scenarios/{scenario_id}")
async def get_scenario(scenario_id: str, catalog: CatalogDep, _: PrincipalDep) -> dict[str, Any]:
    try:
        scenario, persona = await catalog.scenario(scenario_id)
    except CatalogError as error:
        raise HTTPException(404, str(error)) from None
    return {**scenario.model_dump(mode="json"), "persona_detail": persona.model_dump(mode="json")}


@router.put("/admin/scenarios/{scenario_id}")
async def put_scenario(scenario_id: str, scenario: Scenario, catalog: CatalogDep,
                       admin: AdminDep, response: Response) -> dict[str, Any]:
    """Create or replace a scenario; it applies from the next turn of every session."""
    if scenario.id != scenario_id:
        raise HTTPException(422, [{"loc": ["body", "id"], "msg": "must match the URL",
                                   "type": "value_error"}])
    try:
        created = await catalog.put_scenario(scenario, admin.user_id)
    except CatalogError as error:
        raise HTTPException(422, [{"loc": ["body", "persona"], "msg": str(error),
                                   "type": "value_error"}]) from None
    response.status_code = 201 if created else 200
    return scenario.model_dump(mode="json")


@router.put("/admin/personas/{persona_id}")
async def put_persona(persona_id: str, persona: Persona, catalog: CatalogDep, admin: AdminDep,
                      response: Response) -> dict[str, Any]:
    if persona.id != persona_id:
        raise HTTPException(422, [{"loc": ["body", "id"], "msg": "must match the URL",
                                   "type": "value_error"}])
    created = await catalog.put_persona(persona, admin.user_id)
    response.status_code = 201 if created else 200
    return persona.model_dump(mode="json")


@router.delete("/admin/{kind}/{item_id}", status_code=204)
async def delete_item(kind: str, item_id: str, catalog: CatalogDep, _: AdminDep) -> Response:
    """Remove an operator's scenario or persona (a built-in one reappears: it is read-only)."""
    if kind not in ("scenarios", "personas"):
        raise HTTPException(404, "no such collection")
    try:
        deleted = await catalog.delete(kind, item_id)
    except CatalogError as error:
        raise HTTPException(409, str(error)) from None
    if not deleted:
        builtin = item_id in (catalog.builtin.scenarios if kind == "scenarios"
                              else catalog.builtin.personas)
        raise HTTPException(409 if builtin else 404,
                            "built-in entries are read-only" if builtin else f"no {item_id!r}")
    return Response(status_code=204)
