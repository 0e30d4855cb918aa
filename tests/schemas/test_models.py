"""The pydantic models agree with the .avsc files, which are the source of truth."""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel

from schemas import registry
from schemas.models import MODEL_FOR_RECORD
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import alert, audit_event, enriched_event

_PRIMITIVE = {"string": str, "long": int, "int": int, "boolean": bool, "double": float}


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _assert_type_agrees(avro: Any, annotation: Any, where: str) -> None:
    if isinstance(avro, list):
        assert avro[0] == "null", where
        annotation, optional = _strip_optional(annotation)
        assert optional, f"{where}: nullable in Avro, required in the model"
        _assert_type_agrees(avro[1], annotation, where)
        return
    if isinstance(avro, str):
        assert annotation is _PRIMITIVE[avro], f"{where}: {avro} vs {annotation}"
        return
    kind = avro["type"]
    if kind == "record":
        assert issubclass(annotation, BaseModel), where
        _assert_record_agrees(avro, annotation, where)
    elif kind == "enum":
        assert issubclass(annotation, Enum), where
        assert [m.value for m in annotation] == avro["symbols"], where
    elif kind == "array":
        assert typing.get_origin(annotation) is list, where
        _assert_type_agrees(avro["items"], typing.get_args(annotation)[0], f"{where}[]")
    elif kind == "map":
        assert typing.get_origin(annotation) is dict, where
        _assert_type_agrees(avro["values"], typing.get_args(annotation)[1], f"{where}{{}}")
    elif avro.get("logicalType") == "timestamp-micros":
        assert annotation is AwareDatetime, f"{where}: timestamps are aware datetimes"
    else:
        _assert_type_agrees(kind, annotation, where)


def _assert_record_agrees(avro: dict[str, Any], model: type[BaseModel], where: str) -> None:
    avro_fields = [f["name"] for f in avro["fields"]]
    assert avro_fields == list(model.model_fields), f"{where}: field names or order differ"
    for field in avro["fields"]:
        info = model.model_fields[field["name"]]
        path = f"{where}.{field['name']}"
        _assert_type_agrees(field["type"], info.annotation, path)
        if "default" in field:
            default = info.get_default(call_default_factory=True)
            if isinstance(default, Enum):
                default = default.value
            assert default == field["default"], f"{path}: default differs"
        else:
            assert info.is_required(), f"{path}: required in Avro, defaulted in the model"


@pytest.mark.parametrize("record", registry.RECORD_NAMES)
def test_model_mirrors_schema(record: str) -> None:
    _assert_record_agrees(registry.current(record).schema, MODEL_FOR_RECORD[record], record)


@pytest.mark.parametrize(
    ("record", "factory"),
    [("AuditEvent", audit_event), ("EnrichedEvent", enriched_event), ("Alert", alert)],
)
def test_models_round_trip_through_avro(record: str, factory: Any) -> None:
    model = MODEL_FOR_RECORD[record]
    original = model.from_avro(factory())

    decoded = Deserializer(record)(SingleObjectSerializer(record)(original.to_avro()))

    assert model.from_avro(decoded) == original
