"""``mcp-audit report --since 30d --out report.html [--pdf report.pdf]``: the compliance report."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from producers.privacy.scanners import Scanner
from readside.report import outside_scanner
from readside.report.build import build
from readside.report.render import render
from readside.session import open_read_side
from schemas.errors import ConfigError
from sinks.settings import SinkSettings

NAME = "report"
HELP = "write the compliance report (HTML, and PDF with --pdf) for a period"
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="30d", help="period: e.g. 90m, 24h, 30d (default 30d)")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write")
    parser.add_argument("--pdf", type=Path, help="also print the report to this PDF (Chromium)")


def period(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if match is None:
        raise ConfigError("a period is a number and a unit, like 30d, 24h or 90m", given=text)
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def secret_count(text: str, scanner: Scanner = Scanner()) -> int:  # noqa: B008 - one shared scanner
    """The producers' findings, plus what detect-secrets finds in what they would leave:
    a secret the producers' scanner misses is still counted (the check is not circular)."""
    left, found = scanner.scrub(text)
    return found + outside_scanner.count(left)


def print_pdf(html: Path, pdf: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise ConfigError("printing a PDF needs Chromium (Debian package chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--user-data-dir={profile}",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    since = datetime.now(UTC) - period(args.since)
    with open_read_side(SinkSettings.load()) as session:
        report = session.read(
            "report", lambda c: build(c, since, secret_count), lambda _: 0, since=args.since
        )
    args.out.write_text(render(report))
    print(f"wrote {args.out}")
    if args.pdf:
        print_pdf(args.out, args.pdf)
        print(f"wrote {args.pdf}")
    failed = [c.title for c in report.checks.values() if not c.passed]
    print("scores: " + ", ".join(f"{k} {v}%" for k, v in report.scores.items()))
    if failed:
        print("failed checks: " + "; ".join(failed))
    return 0
