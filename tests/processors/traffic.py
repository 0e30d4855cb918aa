"""Synthetic MCP traffic for detector scenarios: a steady population of users with habits.

Each user has a call rate, working hours, a handful of tools with usage
weights, one or two IPs, one client, a small error rate and a typical result
size. :func:`normal_traffic` yields their calls in time order as detector
features; scenarios append the anomaly they test.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from processors.features import Features

START_US = 1_795_000_000 * 1_000_000  # a Monday 00:00 UTC in late 2026
MINUTE_US = 60_000_000
TOOL_POOL = [f"tool_{i}" for i in range(40)]


@dataclass(frozen=True)
class User:
    name: str
    rate_per_min: float
    hours: range
    tools: tuple[str, ...]
    weights: tuple[float, ...]
    ips: tuple[str, ...]
    client: str
    error_rate: float
    size_median: int


def population(count: int, seed: int = 7) -> list[User]:
    rng = random.Random(seed)
    users = []
    for i in range(count):
        start = rng.randint(6, 10)
        tools = tuple(rng.sample(TOOL_POOL, rng.randint(4, 7)))
        weights = tuple(rng.uniform(1.0, 3.0) for _ in tools)
        ips = (f"10.0.{i}.1",) if rng.random() < 0.5 else (f"10.0.{i}.1", f"10.1.{i}.1")
        users.append(
            User(
                name=f"{i:04d}" + "u" * 60,
                rate_per_min=rng.uniform(2.0, 12.0),
                hours=range(start, start + rng.randint(8, 10)),
                tools=tools,
                weights=weights,
                ips=ips,
                client=f"client-{i % 3}",
                error_rate=rng.uniform(0.0, 0.03),
                size_median=rng.randint(500, 20_000),
            )
        )
    return users


def call(user: User, time_us: int, rng: random.Random, **changes: object) -> Features:
    """One normal call by ``user`` at ``time_us``; ``changes`` override any feature."""
    facts = Features(
        event_id=f"e-{rng.getrandbits(64):016x}",
        time_us=time_us,
        event_type="TOOL_CALL",
        phase="RESULT",
        user=user.name,
        tenant="acme",
        server="files",
        tool=rng.choices(user.tools, user.weights)[0],
        resource=None,
        ip=rng.choice(user.ips),
        client=user.client,
        scopes=["files:read"],
        status="ERROR" if rng.random() < user.error_rate else "SUCCESS",
        result_size=int(user.size_median * math.exp(rng.gauss(0.0, 0.6))),
        classification="MEDIUM",
        destructive=False,
        open_world=False,
        read_only=True,
        fingerprint="f" * 64,
        categories=[],
    )
    return facts._replace(**changes)  # type: ignore[arg-type]


def normal_traffic(
    users: list[User], days: float, seed: int = 11, start_us: int = START_US
) -> Iterator[Features]:
    """Every user's calls, minute by minute, during their working hours, in time order."""
    rng = random.Random(seed)
    for minute in range(int(days * 24 * 60)):
        minute_start = start_us + minute * MINUTE_US
        hour = (minute // 60) % 24
        batch = []
        for user in users:
            if hour not in user.hours:
                continue
            for _ in range(_poisson(rng, user.rate_per_min)):
                batch.append((minute_start + rng.randrange(MINUTE_US), user))
        batch.sort(key=lambda item: item[0])
        for time_us, user in batch:
            yield call(user, time_us, rng)


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count
