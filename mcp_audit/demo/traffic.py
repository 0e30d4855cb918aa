"""Demo traffic: an MCP SDK client acting as several users, some of them misbehaving.

Run: ``python -m mcp_audit.demo.traffic --url http://127.0.0.1:8765/mcp [--rounds N]``.
alice, bob and carol work normally; mallory enumerates records and keeps
trying a denied destructive tool, so the processors raise enumeration and
failure-burst alerts within the first minute. With ``--proxy-time`` it also
drives ``mcp-server-time`` through ``mcp-audit proxy`` over stdio, and with
``--proxy-git DIR`` ``mcp-server-git`` on that scratch repository.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp_audit.demo.server import token_of

Call = tuple[str, dict[str, object]]
NORMAL: dict[str, list[Call]] = {
    "alice": [
        ("read_patient_record", {"patient_id": "p-17"}),
        ("search_docs", {"query": "asthma"}),
    ],
    "bob": [("search_docs", {"query": "refunds"}), ("get_time", {})],
    "carol": [("charge_card", {"card_number": "4111111111111111", "amount_cents": 1299})],
}


@asynccontextmanager
async def session_as(url: str, user: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token_of(user)}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        yield session


async def normal_user(url: str, user: str, rounds: int, rng: random.Random) -> None:
    async with session_as(url, user) as session:
        for _ in range(rounds):
            tool, arguments = rng.choice(NORMAL[user])
            await session.call_tool(tool, arguments)
            await asyncio.sleep(rng.uniform(0.2, 1.0))


async def mallory(url: str) -> None:
    async with session_as(url, "mallory") as session:
        for record in range(40):  # enumeration: many distinct resources in a minute
            await session.read_resource(f"records://{1000 + record}")
        for _ in range(12):  # a burst of denied destructive calls
            await session.call_tool("delete_records", {"table": "patients"})


async def through_proxy(server: list[str], tool: str, arguments: dict[str, str]) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_audit.cli", "proxy", "--", *server],
        env=dict(os.environ),  # the proxy's producer settings (the SDK passes a safe subset)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        await session.call_tool(tool, arguments)


def scratch_repo(path: Path) -> Path:
    if not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(path)], check=True)
        (path / "README.md").write_text("scratch repository for the mcp-audit demo\n")
    return path


async def wait_for_server(url: str, timeout_s: float = 60.0) -> None:
    """The demo server starts beside us: retry until it answers."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            async with session_as(url, "alice"):
                return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1.0)


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    await wait_for_server(args.url)
    users = [normal_user(args.url, user, args.rounds, rng) for user in NORMAL]
    await asyncio.gather(*users, mallory(args.url))
    bin_dir = Path(sys.executable).parent
    if args.proxy_time and (time_server := shutil.which("mcp-server-time", path=str(bin_dir))):
        await through_proxy([time_server], "get_current_time", {"timezone": "Europe/Paris"})
    if args.proxy_git and (git_server := shutil.which("mcp-server-git", path=str(bin_dir))):
        repo = scratch_repo(args.proxy_git)
        await through_proxy(
            [git_server, "--repository", str(repo)], "git_status", {"repo_path": str(repo)}
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8765/mcp")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--proxy-time", action="store_true")
    parser.add_argument("--proxy-git", type=Path)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
