"""The evolution rule: a new version may only add fields, and each added field has a default.

Checked between every released snapshot and the current schema, so an old
reader can read new events and a new reader can read old ones.
"""

from __future__ import annotations

from typing import Any


def _record_of(node: Any) -> dict[str, Any] | None:
    if isinstance(node, dict) and node.get("type") == "record":
        return node
    if isinstance(node, list):  # a union: its record branch, if any
        for branch in node:
            found = _record_of(branch)
            if found is not None:
                return found
    return None


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """What in ``new`` breaks readers or writers of ``old``; empty when compatible."""
    problems: list[str] = []
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    for name in old_fields.keys() - new_fields.keys():
        if "default" not in old_fields[name]:
            problems.append(f"{path}{name}: removed, and it had no default")
    for name, field in new_fields.items():
        where = f"{path}{name}"
        if name not in old_fields:
            if "default" not in field:
                problems.append(f"{where}: added without a default")
            continue
        old_record, new_record = _record_of(old_fields[name]["type"]), _record_of(field["type"])
        if old_record is not None and new_record is not None:
            problems.extend(breaking_changes(old_record, new_record, f"{where}."))
    return problems
