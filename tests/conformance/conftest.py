"""The producer fixtures (a real Auditor on the session broker), shared with tests/producers."""

from tests.producers.conftest import auditor

__all__ = ["auditor"]
