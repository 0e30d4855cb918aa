"""What people's commands share: the store opened with migrations, and auditing each use.

Lifecycle: ``with OperatorSession(settings) as session:`` opens the audit
database (migrations applied) and closes it on exit. ``session.audit(...)``
stores the AUDIT_ACCESS row; commands call it *before* showing any data, so
an access that cannot be recorded shows nothing.
"""

from __future__ import annotations

from types import TracebackType

from clickhouse_connect.driver.client import Client

from sinks.access import record_access
from sinks.readonly import read_only_client
from sinks.service import open_store
from sinks.settings import SinkSettings
from sinks.writer import AvroWriter


class OperatorSession:
    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings

    def __enter__(self) -> OperatorSession:
        self.client: Client = open_store(self.settings)
        self.writer = AvroWriter(self.client, self.settings.clickhouse_url, 1)
        return self

    def read_only(self) -> Client:
        return read_only_client(self.settings.clickhouse_url, self.settings.database)

    def audit(self, action: str, **detail: str) -> str:
        return record_access(self.writer, self.settings.operator, action, **detail)

    def key(self) -> bytes | None:
        secret = self.settings.pseudonym_key
        return secret.get_secret_value().encode() if secret else None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.writer.close()
