"""Runs the official MCP conformance suite (``@modelcontextprotocol/conformance``) as a judge.

The suite and the Node 22 it needs are npm packages pinned in
``tests/conformance/package.json``; ``npm ci --prefix tests/conformance``
installs both (``.ci/run`` does). Locally a missing install skips, in CI it
fails, like :func:`tests.conformance.require_tool`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import missing

HERE = Path(__file__).parent
BIN = HERE / "node_modules" / ".bin"
TIMEOUT_S = 500.0  # a whole run takes 5 s here, the stdio path minutes on a loaded machine


@dataclass(frozen=True)
class Outcome:
    """Each scenario the suite ran, with the ids of its failed checks (empty: it passed)."""

    failures: dict[str, tuple[str, ...]]

    @property
    def passed(self) -> set[str]:
        return {name for name, failed in self.failures.items() if not failed}


def require_suite() -> tuple[str, str]:
    """Node 22 and the suite's CLI, installed from tests/conformance/package.json."""
    node, cli = BIN / "node", BIN / "conformance"
    if not (node.exists() and cli.exists()):
        missing("the MCP conformance suite is not installed: npm ci --prefix tests/conformance")
    return str(node), str(cli)


async def run_suite(url: str, output: Path) -> Outcome:
    """Every active server scenario against ``url``; the verdicts the suite wrote."""
    node, cli = require_suite()
    process = await asyncio.create_subprocess_exec(
        node,
        cli,
        "server",
        "--url",
        url,
        "-o",
        str(output),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        printed, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    failures: dict[str, tuple[str, ...]] = {}
    for checks in output.glob("server-*/checks.json"):
        # server-NAME-yyyy-mm-ddThh-mm-ss-mmmZ
        scenario = checks.parent.name.removeprefix("server-").rsplit("-", 6)[0]
        failed = [c["id"] for c in json.loads(checks.read_text()) if c["status"] == "FAILURE"]
        failures[scenario] = tuple(failed)
    assert failures, printed.decode(errors="replace")[-2000:]
    return Outcome(failures)
