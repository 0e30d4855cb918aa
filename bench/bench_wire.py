"""Encode and decode cost of one audit event: the generated codec against fastavro and JSON."""

from __future__ import annotations

import io
import json

from fastavro import schemaless_reader, schemaless_writer

from bench.timing import per_call_ns, table
from schemas import registry
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event


def main() -> str:
    event = audit_event()
    writer = registry.current("AuditEvent")
    encode = SingleObjectSerializer("AuditEvent")
    decode = Deserializer("AuditEvent")
    decode_micros = Deserializer("AuditEvent", timestamps_as_micros=True)
    data = encode(event)
    body = data[10:]
    as_json = json.dumps(event, default=str)

    def fastavro_encode() -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, writer.parsed, event)
        return buffer.getvalue()

    cases = [
        ("encode: generated codec", lambda: encode(event)),
        ("encode: fastavro (baseline)", fastavro_encode),
        ("encode: json.dumps", lambda: json.dumps(event, default=str)),
        ("decode: generated codec", lambda: decode(data)),
        ("decode: generated, timestamps as µs", lambda: decode_micros(data)),
        ("decode: fastavro (baseline)", lambda: schemaless_reader(io.BytesIO(body), writer.parsed)),
        ("decode: json.loads", lambda: json.loads(as_json)),
    ]
    timings = {name: min(per_call_ns(fn, calls=10_000)) for name, fn in cases}
    rows = []
    for name, ns in timings.items():
        kind = name.split(":")[0]
        baseline = timings[f"{kind}: fastavro (baseline)"]
        rows.append([name, f"{ns / 1000:.2f}", f"{1e9 / ns:,.0f}", f"{baseline / ns:.2f}x"])
    body_table = table(["operation", "µs/event", "events/s", "speed vs fastavro"], rows)
    sizes = f"Encoded size: {len(data)} bytes Avro vs {len(as_json)} bytes JSON."
    return f"## Wire format (one AuditEvent)\n\n{body_table}\n\n{sizes}"


if __name__ == "__main__":
    print(main())
