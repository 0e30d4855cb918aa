from collections.abc import Callable
from typing import Any

class Sealer:
    def __init__(
        self,
        stream_id: str,
        header: bytes,
        event_types: tuple[str, ...],
        phases: tuple[str, ...],
        statuses: tuple[str, ...],
        event_class: type,
        outcome_class: type,
        make_shape: Callable[[Any], tuple[bytes, bytes, str]],
        repair: Callable[[Any], None],
        *,
        key_id: str | None = None,
        key: bytes | None = None,
    ) -> None: ...
    header: bytes
    @property
    def stream_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def last_hash(self) -> str: ...
    @property
    def key_id(self) -> str | None: ...
    def seal(self, event: Any, /) -> bytes: ...
