"""What one delivery attempt came to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attempt:
    ok: bool
    error: str = ""
    permanent: bool = False  # can never succeed as it is: failed at once, not retried
    settled: bool = False  # the row was marked delivered in the attempt's own transaction

    @classmethod
    def failed(cls, error: str, permanent: bool = False) -> Attempt:
        return cls(False, error[:500], permanent)
