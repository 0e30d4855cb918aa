"""Encode and decode cost of the audit event on the wire, against plain JSON as a baseline."""

from __future__ import annotations

import json

from bench.timing import per_call_ns, table
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event


def main() -> str:
    event = audit_event()
    encode = SingleObjectSerializer("AuditEvent")
    decode = Deserializer("AuditEvent")
    data = encode(event)
    as_json = json.dumps(event, default=str)
    calls = 20_000
    rows = []
    cases = [
        ("single-object encode", lambda: encode(event)),
        ("json.dumps (baseline)", lambda: json.dumps(event, default=str)),
        ("single-object decode", lambda: decode(data)),
        ("json.loads (baseline)", lambda: json.loads(as_json)),
    ]
    for name, fn in cases:
        best = min(per_call_ns(fn, calls=calls))
        rows.append([name, f"{best / 1000:.2f}", f"{1e9 / best:,.0f}"])
    sizes = f"Encoded size: {len(data)} bytes Avro vs {len(as_json)} bytes JSON."
    return (
        "## Wire format\n\n" + table(["operation", "µs/event", "events/s"], rows) + "\n\n" + sizes
    )


if __name__ == "__main__":
    print(main())
