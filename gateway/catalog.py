"""The live catalog: operators' edits in PostgreSQL over the read-only built-in YAML.

Each turn reads the scenario it needs (one primary-key lookup), so an edit applies
from the next turn in every process, with no restart and no cache to invalidate.
"""

from __future__ import annotations

from gateway.storage import Store
from scenarios.loader import builtin_catalog
from scenarios.models import Catalog, Persona, Scenario


class CatalogError(LookupError):
    """An unknown id, or a definition that does not fit the catalog."""


class LiveCatalog:
    def __init__(self, store: Store, builtin: Catalog | None = None) -> None:
        self.store = store
        self.builtin = builtin or builtin_catalog()

    async def scenario(self, scenario_id: str) -> tuple[Scenario, Persona]:
        """The scenario (operators' version first) and its persona, in one round trip."""
        builtin = self.builtin.scenarios.get(scenario_id)
        custom, custom_persona = await self.store.custom_scenario_and_persona(
            scenario_id, builtin.persona if builtin else None)
        if custom is not None:
            scenario = Scenario.model_validate(custom)
        elif builtin is not None:
            scenario = builtin
        else:
            raise CatalogError(f"unknown scenario {scenario_id!r}")
        if custom_persona is not None:
            return scenario, Persona.model_validate(custom_persona)
        if scenario.persona in self.builtin.personas:
            return scenario, self.builtin.personas[scenario.persona]
        raise CatalogError(f"unknown persona {scenario.persona!r}")

    async def persona(self, persona_id: str) -> Persona:
        custom = await self.store.custom_definition("personas", persona_id)
        if custom is not None:
            return Persona.model_validate(custom)
        if persona_id in self.builtin.personas:
            return self.builtin.personas[persona_id]
        raise CatalogError(f"unknown persona {persona_id!r}")

    async def all(self) -> Catalog:
        """Built-in and custom together (custom wins on the same id)."""
        personas = dict(self.builtin.personas)
        personas.update({k: Persona.model_validate(v)
                         for k, v in (await self.store.custom_definitions("personas")).items()})
        scenarios = dict(self.builtin.scenarios)
        scenarios.update({k: Scenario.model_validate(v)
                          for k, v in (await self.store.custom_definitions("scenarios")).items()})
        return Catalog.model_construct(personas=personas, scenarios=scenarios)

    async def put_scenario(self, scenario: Scenario, user: str) -> bool:
        await self.persona(scenario.persona)  # must name a known persona
        return await self.store.put_definition("scenarios", scenario.id,
                                               scenario.model_dump(mode="json"), user)

    async def put_persona(self, persona: Persona, user: str) -> bool:
        return await self.store.put_definition("personas", persona.id,
                                               persona.model_dump(mode="json"), user)

    async def delete(self, kind: str, item_id: str) -> bool:
        if kind == "personas":
            catalog = await self.all()
            users = [s.id for s in catalog.scenarios.values() if s.persona == item_id]
            if users and item_id not in self.builtin.personas:
                raise CatalogError(f"persona {item_id!r} is used by {', '.join(users)}")
        return await self.store.delete_definition(kind, item_id)
