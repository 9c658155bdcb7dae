"""A rate limit's shape, for the local cloud's rules and its command line (no moto here: `up` parses
it before any server loads)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class TokenRate:
    """A token bucket: at most `burst` calls at once, then `per_second` calls a second."""

    burst: int
    per_second: Fraction

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError(f"a rate needs a burst of 1 or more and a refill above 0, not {self}")

    @classmethod
    def parse(cls, text: str) -> TokenRate:
        """BURST/PER_SECOND, e.g. "100/20" or "1/0.5"."""
        burst, sep, per_second = text.partition("/")
        if not sep:
            raise ValueError(f"expected BURST/PER_SECOND, e.g. 100/20, not {text!r}")
        return cls(int(burst), Fraction(per_second))

    def __str__(self) -> str:
        """As `parse` reads it back."""
        rate = self.per_second
        return f"{self.burst}/{rate.numerator if rate.denominator == 1 else float(rate)}"
