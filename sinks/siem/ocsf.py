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

Assumptions (our choices where OCSF leaves one, or could not be checked):

* ``1.10.0-dev`` as the version that will carry ``ai_tool``; a destination that
  validates strictly against 1.9.0 will see ``ai_tool`` as unknown.
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
* Nothing is invented: ``src_endpoint`` (required by the class) is never set,
  since an alert has no network source, and ``actor``/``api``/``ai_tool`` are
  left out when the alert has no user, server or tool (``heartbeat_missing``).

Detection Finding (2004) would describe an alert more faithfully (``finding_info``
with the analytic, ``evidences``), but the ``ai_operation`` profile, and so
``ai_tool``, is not on the findings classes, and issue 4 asks for 6003 so that
SIEM content written for MCP/AI tool activity matches. This produces 6003.

A folded alert is sent again with the same ``alert_id`` (``metadata.uid``) and a
higher ``count``; readers take the highest count, as the audit store's do.
"""

from __future__ import annotations

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


def to_ocsf(alert: dict[str, Any]) -> dict[str, Any]:
    """The OCSF API Activity document for one decoded ``mcp_audit.Alert``."""
    # A severity symbol added to the schema later than this code is Unknown, not a guess.
    severity_id = SEVERITY_IDS.get(alert["severity"], 0)
    user, server, tool = alert.get("user_pseudonym"), alert.get("server_id"), alert.get("tool_name")
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
            "attributes": dict(alert.get("attributes") or {}),
        },
    }
    if user is not None:
        document["actor"] = {"user": {"uid": user}}
    api: dict[str, Any] = {}
    if tool is not None:
        api["operation"] = tool
        document["ai_tool"] = _ai_tool(tool, server)
    if server is not None:
        api["service"] = {"name": server}
    if api:
        document["api"] = api
    return document


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
