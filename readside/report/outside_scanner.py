"""A secret scanner the project did not write: detect-secrets (Yelp), run over stored text.

The compliance report asks it beside the producers' own scanner, so a secret
the producers missed is not judged by the code that missed it. All of
detect-secrets' plugins run with their default filters, as its ad-hoc
``scan_line`` does; the high-entropy plugins report only strings above their
entropy limit (4.5 bits for base64, 3.0 for hex), as in a file scan.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator

from detect_secrets.core import scan
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.settings import default_settings, get_filters, get_plugins, get_settings
from detect_secrets.util.code_snippet import get_code_snippet

_lock = threading.Lock()  # detect-secrets keeps its settings in a process-wide singleton
_settings = default_settings()  # kept referenced: collecting it would restore the old settings
_ready = False


def _configure() -> None:
    """Every plugin on, once: ``scan_line`` re-reads the settings each call (~5 ms a line)."""
    global _ready
    if not _ready:
        _settings.__enter__()
        atexit.register(_settings.__exit__, None, None, None)
        get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")
        get_filters.cache_clear()
        _ready = True


def findings(text: str) -> list[tuple[str, str]]:
    """(type, secret) for each finding of detect-secrets in ``text``, line by line."""
    with _lock:
        _configure()
        return [f for line in text.splitlines() for f in _line(line)]


def _line(line: str) -> Iterator[tuple[str, str]]:
    context = get_code_snippet(lines=[line], line_number=1)
    for plugin in get_plugins():
        for secret in scan._scan_line(
            plugin=plugin, filename="adhoc-string-scan", line=line, line_number=0,
            enable_eager_search=True, context=context,
        ):  # fmt: skip
            value = secret.secret_value or ""
            if scan._is_filtered_out(
                required_filter_parameters=["context"], filename=secret.filename,
                secret=value, plugin=plugin, line=line, context=context,
            ):  # fmt: skip
                continue
            if isinstance(plugin, HighEntropyStringsPlugin) and (
                plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit
            ):
                continue  # below the plugin's own limit: listed by ad-hoc scans only
            yield secret.type, value


_DIGEST_LENGTHS = frozenset({32, 40, 64, 128})  # MD5, SHA-1, SHA-256, SHA-512 in hex
_HEX = frozenset("0123456789abcdefABCDEF")


def count(text: str) -> int:
    """Findings in stored text, less hex digests: the store holds them by design (argument
    and result digests, the SHA-256 of a truncated value), and detect-secrets' hex-entropy
    plugin flags every one."""
    return sum(
        not (
            kind == "Hex High Entropy String"
            and len(value) in _DIGEST_LENGTHS
            and set(value) <= _HEX
        )
        for kind, value in findings(text)
    )
