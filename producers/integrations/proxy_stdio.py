"""``mcp-audit proxy -- <command>``: a transparent stdio proxy in front of any MCP server.

Lifecycle: :func:`run_proxy` starts the server as a child, then two pump
threads copy bytes unchanged (client stdin -> child stdin, child stdout ->
our stdout) and hand each chunk they read to one audit thread through one
queue, so parsing and auditing never delay the bytes, and the audit thread sees
both directions in the order they were read. When the client closes
stdin the child's stdin is closed; when the child exits, the audit thread
records unanswered requests, the Auditor flushes, and the child's exit code
is returned. The child's stderr is inherited untouched.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence

from producers.auditor import Auditor
from producers.integrations.proxy_wire import ConversationAudit
from producers.integrations.rpc import RpcAudit

log = logging.getLogger(__name__)
_CHUNK = 65536
_MAX_LINE = 64 * 2**20  # longer lines are forwarded but not parsed
_DONE = None


class LineSplitter:
    """Cuts a byte stream into newline-terminated lines for the audit thread."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._emit = emit
        self._partial = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> None:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not self._skipping:
                self._partial += chunk[start:end]
                self._emit(bytes(self._partial))
            self._partial.clear()
            self._skipping = False
            start = end + 1
        if not self._skipping:
            self._partial += chunk[start:]
            if len(self._partial) > _MAX_LINE:
                self._partial.clear()
                self._skipping = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pump(source: int, sink: int, tap: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
    try:
        while chunk := os.read(source, _CHUNK):
            # Tapped before it is forwarded: the client may answer a reply at once, and the
            # audit thread must see the reply (a tools/list) before the request it caused.
            tap(chunk)
            _write_all(sink, chunk)
    except OSError as exc:
        log.debug("proxy pump ended: %s", exc)
    finally:
        on_eof()


def _audit_loop(
    chunks: queue.Queue[tuple[bool, bytes] | None], conversation: ConversationAudit
) -> None:
    """Splits both directions' chunks into lines, in the order the pumps read them."""
    failures = conversation.rpc.auditor.counters

    def guarded(handle: Callable[[bytes], None]) -> Callable[[bytes], None]:
        def audit(line: bytes) -> None:
            try:
                handle(line)
            except Exception:
                failures.failure("proxy")

        return audit

    splitters = {
        True: LineSplitter(guarded(conversation.from_client)),
        False: LineSplitter(guarded(conversation.from_server)),
    }
    while (item := chunks.get()) is not _DONE:
        from_client, chunk = item
        splitters[from_client].feed(chunk)
    conversation.close()


def _tap(
    chunks: queue.Queue[tuple[bool, bytes] | None], from_client: bool
) -> Callable[[bytes], None]:
    return lambda chunk: chunks.put((from_client, chunk))


def _ignore(chunk: bytes) -> None:
    """The tap of a proxy whose auditing failed to start: bytes still pass."""


def run_proxy(
    command: Sequence[str], auditor: Auditor | None, *, stdin: int = 0, stdout: int = 1
) -> int:
    """Run ``command`` behind the proxy until it exits; returns its exit code."""
    child = subprocess.Popen(
        list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert child.stdin is not None and child.stdout is not None
    chunks: queue.Queue[tuple[bool, bytes] | None] = queue.Queue()
    audit_thread = None
    to_child: Callable[[bytes], None] = _ignore
    to_client: Callable[[bytes], None] = _ignore
    if auditor is not None:
        conversation = ConversationAudit(RpcAudit(auditor, "proxy", "stdio", one_connection=True))
        audit_thread = threading.Thread(
            target=_audit_loop, args=(chunks, conversation), daemon=True
        )
        audit_thread.start()
        to_child, to_client = _tap(chunks, True), _tap(chunks, False)
    child_in = child.stdin
    upstream = threading.Thread(
        target=_pump, args=(stdin, child_in.fileno(), to_child, child_in.close), daemon=True
    )
    upstream.start()
    try:
        _pump(child.stdout.fileno(), stdout, to_client, lambda: None)
        return child.wait()
    finally:
        if child.poll() is None:  # we are being stopped: stop the server too
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        chunks.put(_DONE)  # the audit thread records what is still unanswered, then ends
        if audit_thread is not None:
            audit_thread.join(timeout=5)
