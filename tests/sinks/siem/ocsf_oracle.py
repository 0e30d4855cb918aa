"""Judge an OCSF document with pydantic-ocsf, an OCSF implementation the project did not write.

pydantic-ocsf (PyPI) ships the OCSF 1.0.0-1.7.0 schemas and a model per class and
object. Its models accept unknown attributes (``extra="allow"``) and do not check
the schema's ``at_least_one``/``just_one`` constraints, so :func:`ocsf_problems`
also walks the validated model: an attribute the version does not define, other
than the extensions named, is a problem, and so is an object that breaks a
constraint of that version's schema (read from the JSON pydantic-ocsf ships).

For OCSF 1.0.0-1.3.0 the base event's classification and occurrence attributes
(``class_uid``, ``time`` ...) come through ``$include`` files that pydantic-ocsf
does not follow, so its models for those versions lack them: there the unknown
attribute check cannot be made (:data:`COMPLETE` lists where it can).
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import ocsf
from pydantic import BaseModel, ValidationError

VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0")
COMPLETE = ("1.4.0", "1.5.0", "1.6.0", "1.7.0")  # models with every base-event attribute
# ai_tool is from OCSF's development schema (1.10.0-dev), in no release pydantic-ocsf ships.
EXTENSIONS = frozenset({"ai_tool"})


def ocsf_problems(
    document: dict[str, Any], version: str, *, extensions: frozenset[str] = EXTENSIONS
) -> list[str]:
    """What is wrong with ``document`` as an API Activity of OCSF ``version``; [] when valid.

    ``extensions`` are top-level attributes allowed although the version lacks them.
    """
    events = importlib.import_module(f"ocsf.v{version.replace('.', '_')}.events")
    try:
        model = events.ApiActivity.model_validate(document)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    problems: list[str] = []
    _walk(model, "", _schema(version), extensions, problems)
    if version not in COMPLETE:
        problems = [p for p in problems if "not an attribute" not in p]
    return problems


def _walk(
    model: BaseModel, path: str, schema: dict[str, Any], allowed: frozenset[str], out: list[str]
) -> None:
    free_form = type(model).__name__ == "Object"  # OCSF's "object" type, e.g. unmapped
    for key in {} if free_form else model.__pydantic_extra__ or {}:
        if path or key not in allowed:
            out.append(f"{path}{key}: not an attribute of {type(model).__name__}")
    present = set(model.model_dump(by_alias=True, exclude_none=True))
    for kind, names in _constraints(schema, _snake(type(model).__name__)).items():
        hits = present & set(names)
        if (kind == "at_least_one" and not hits) or (kind == "just_one" and len(hits) != 1):
            out.append(f"{path.rstrip('.') or '<event>'}: breaks {kind} {names}")
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                _walk(item, f"{path}{name.rstrip('_')}.", schema, allowed, out)


def _constraints(schema: dict[str, Any], name: str) -> dict[str, list[str]]:
    """The constraints of an object or event class, inherited through ``extends``."""
    for table in ("objects", "events"):
        spec = schema[table].get(name)
        while spec is not None:
            if spec.get("constraints"):
                return dict(spec["constraints"])
            parent = spec.get("extends")
            spec = schema[table].get(parent) if parent else None
    return {}


@cache
def _schema(version: str) -> dict[str, Any]:
    path = Path(ocsf.__file__).parent / "schemas" / f"v{version.replace('.', '_')}.json"
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
