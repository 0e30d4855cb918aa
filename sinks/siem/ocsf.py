"""An alert as an OCSF API Activity (class 6003) document: a pure function, no I/O.

Which OCSF, and from where: the class, its enums and the base-event attributes
(``time``, ``start_time``/``end_time``, ``count``, ``severity_id``, ``message``,
``metadata``, ``unmapped``) are OCSF 1.x as in ocsf/ocsf-schema
(``events/application/api_activity.json``, ``objects/metadata.json``). The
``ai_tool`` object was read from ocsf/ocsf-schema ``objects/ai_tool.json``: it is
not in a release yet (CHANGELOG "Unreleased" after v1.9.0, issue #1728) and
reaches API Activity through the ``ai_operation`` profile, which 1.9.0 put on the
``application`` base class. Hence ``metadata.version`` is ``1.10.0-dev`` and
``metadata.profiles`` names ``ai_operation``. Its attributes used here (``name``
required; ``uid``, ``type_id``, ``source_id``, ``service`` recommended) are as
that file defines them.

Which OCSF releases the output validates against (docs/siem.md): every document
validates against OCSF 1.4.0 through 1.7.0 as pydantic-ocsf ships them (each
version's ``ApiActivity`` model, no attribute it does not know but ``ai_tool``,
and the ``at_least_one`` constraints of its objects;
``tests/sinks/siem/test_ocsf.py``); the 1.1.0-1.3.0 models accept it too. Not
1.0.0: it requires ``actor.user.type_id`` and has no ``metadata.tenant_uid``.

Assumptions (our choices where OCSF leaves one, or could not be checked):

* ``1.10.0-dev`` as the version that will carry ``ai_tool``; a destination that
  validates strictly against a release sees ``ai_tool`` as unknown.
* ``activity_id`` 99 (Other) with ``activity_name`` "Alert": the CRUD activities
  of API Activity do not fit an alert about a pattern of calls, and the alert
  does not say whether the tool reads or writes.
* ``ai_tool.type_id`` 1 (Tool) and ``source_id`` 1 (MCP): an alert's
  ``tool_name`` comes from an MCP ``tools/call`` (resources and prompts are
  recorded under other fields). ``ai_tool.uid`` is ``server_id/tool_name``, the
  "producer-derived stable key" the object's description suggests.
* Severity: LOW, MEDIUM, HIGH, CRITICAL -> 2 Low, 3 Medium, 4 High, 5 Critical.
  1 (Informational) and 6 (Fatal) are not used: every alert asks for attention,
  and none means the system is unusable.
* The detector, the evidence event ids and the detector's attributes go to
  ``unmapped`` (no API Activity attribute means "which analytic fired"; the
  detector also goes to ``metadata.event_code`` so it is searchable).
* The three attributes the class requires are always there, from what the alert
  knows, else a fixed placeholder (:data:`ANONYMOUS_USER`, :data:`PIPELINE_USER`,
  :data:`UNKNOWN_OPERATION`, :data:`PIPELINE_OPERATION`, :data:`UNKNOWN_SOURCE`,
  :data:`PIPELINE_SOURCE`). An alert with no user, server or tool is the
  pipeline's own (``heartbeat_missing``, ``sequence_gap``, a stall, sink lag):
  the pipeline is its actor, operation and source; one with a server but no user
  is the anonymous user's, and one with no tool has the operation ``unknown``.
  ``src_endpoint`` is the address or host a detector names (``first_seen_ip``'s
  ``ip``, a producer's ``host``), since an alert does not carry the caller's
  network source otherwise.

Detection Finding (2004) would describe an alert more faithfully (``finding_info``
with the analytic, ``evidences``), but the ``ai_operation`` profile, and so
``ai_tool``, is not on the findings classes, and issue 4 asks for 6003 so that
SIEM content written for MCP/AI tool activity matches. This produces 6003.

A folded alert is sent again with the same ``alert_id`` (``metadata.uid``) and a
higher ``count``; readers take the highest count, as the audit store's do.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

OCSF_VERSION = "1.10.0-dev"
CATEGORY_UID, CATEGORY_NAME = 6, "Application Activity"
CLASS_UID, CLASS_NAME = 6003, "API Activity"
ACTIVITY_ID, ACTIVITY_NAME = 99, "Alert"
TYPE_UID = CLASS_UID * 100 + ACTIVITY_ID
PRODUCT = {"name": "mcp-audit", "vendor_name": "mcp-audit"}

SEVERITY_IDS = {"LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
SEVERITY_NAMES = {0: "Unknown", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(value: datetime | int) -> int:
    """OCSF ``timestamp_t``: milliseconds since the epoch, from a datetime or int microseconds."""
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MS
    return value // 1000


# Placeholders for what an alert does not know (docs/siem.md lists them).
ANONYMOUS_USER = {"name": "anonymous", "type_id": 0, "type": "Unknown"}
PIPELINE_USER = {"name": "mcp-audit", "type_id": 3, "type": "System"}
UNKNOWN_OPERATION = "unknown"
PIPELINE_OPERATION, PIPELINE_SERVICE = "pipeline", "mcp-audit"
UNKNOWN_SOURCE = {"name": "unknown"}
PIPELINE_SOURCE = {"name": "mcp-audit"}


def to_ocsf(alert: dict[str, Any]) -> dict[str, Any]:
    """The OCSF API Activity document for one decoded ``mcp_audit.Alert``."""
    # A severity symbol added to the schema later than this code is Unknown, not a guess.
    severity_id = SEVERITY_IDS.get(alert["severity"], 0)
    # An empty string names no one and nothing, as None does.
    user = alert.get("user_pseudonym") or None
    server, tool = alert.get("server_id") or None, alert.get("tool_name") or None
    attributes = dict(alert.get("attributes") or {})
    pipeline = user is None and server is None and tool is None
    document: dict[str, Any] = {
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "activity_id": ACTIVITY_ID,
        "activity_name": ACTIVITY_NAME,
        "type_uid": TYPE_UID,
        "type_name": f"{CLASS_NAME}: {ACTIVITY_NAME}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES[severity_id],
        "time": epoch_ms(alert["alert_time"]),
        "start_time": epoch_ms(alert["window_start"]),
        "end_time": epoch_ms(alert["window_end"]),
        "count": alert.get("count", 1),
        "message": alert["summary"],
        "metadata": _metadata(alert, has_tool=tool is not None),
        "unmapped": {
            "detector": alert["detector"],
            "evidence_event_ids": list(alert.get("evidence_event_ids") or []),
            "attributes": attributes,
        },
        "actor": {"user": _user(user, pipeline)},
        "api": _api(server, tool, pipeline),
        "src_endpoint": _source(attributes, pipeline),
    }
    if tool is not None:
        document["ai_tool"] = _ai_tool(tool, server)
    return document


def _user(pseudonym: str | None, pipeline: bool) -> dict[str, Any]:
    if pseudonym is not None:
        return {"uid": pseudonym}
    return dict(PIPELINE_USER if pipeline else ANONYMOUS_USER)


def _api(server: str | None, tool: str | None, pipeline: bool) -> dict[str, Any]:
    if pipeline:
        return {"operation": PIPELINE_OPERATION, "service": {"name": PIPELINE_SERVICE}}
    api: dict[str, Any] = {"operation": tool if tool is not None else UNKNOWN_OPERATION}
    if server is not None:
        api["service"] = {"name": server}
    return api


def _source(attributes: dict[str, str], pipeline: bool) -> dict[str, Any]:
    """The network source a detector names, else the placeholder for who raised it."""
    if _is_ip(attributes.get("ip")):
        return {"ip": attributes["ip"]}
    if attributes.get("host"):
        return {"hostname": attributes["host"]}
    return dict(PIPELINE_SOURCE if pipeline else UNKNOWN_SOURCE)


def _is_ip(value: str | None) -> bool:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def _metadata(alert: dict[str, Any], has_tool: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": dict(PRODUCT),
        "uid": alert["alert_id"],
        "event_code": alert["detector"],
    }
    if has_tool:
        metadata["profiles"] = ["ai_operation"]
    if alert.get("tenant_id") is not None:
        metadata["tenant_uid"] = alert["tenant_id"]
    return metadata


def _ai_tool(tool: str, server: str | None) -> dict[str, Any]:
    ai_tool: dict[str, Any] = {
        "name": tool,
        "type_id": 1,
        "type": "Tool",
        "source_id": 1,
        "source": "MCP",
    }
    if server is not None:
        ai_tool["uid"] = f"{server}/{tool}"
        ai_tool["service"] = {"name": server}
    return ai_tool
