"""The built-in catalog: YAML files in scenarios/data, validated at start-up."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from scenarios.models import Catalog, Persona, Scenario

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    """Read personas.yaml and one YAML file per scenario; raise on any invalid field."""
    raw_personas = yaml.safe_load((data_dir / "personas.yaml").read_text(encoding="utf-8"))
    personas = {pid: Persona.model_validate({"id": pid, **body}) for pid, body in raw_personas.items()}
    scenarios: dict[str, Scenario] = {}
    for path in sorted(data_dir.glob("*.yaml")):
        if path.name == "personas.yaml":
            continue
        scenario = Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if scenario.id != path.stem:
            raise ValueError(f"{path.name} defines scenario {scenario.id!r}; the file must be "
                             f"named after the id")
        scenarios[scenario.id] = scenario
    return Catalog(personas=personas, scenarios=scenarios)


@functools.cache
def builtin_catalog() -> Catalog:
    return load_catalog()
