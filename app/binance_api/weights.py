"""Request weights as Binance counts them: each endpoint's weight, the used weight per address and
minute (the `X-MBX-USED-WEIGHT-1M` header), and the limit past which it answers 429."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUEST_WEIGHT_LIMIT = 6000  # per minute and address, as Binance's spot API
MINUTE_MS = 60_000


def depth_weight(limit: int) -> int:
    """Binance's weight of GET /api/v3/depth by its limit."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


@dataclass(slots=True)
class WeightMeter:
    """Fixed one-minute windows per address (Binance's are per IP); in memory, per process."""

    limit: int = REQUEST_WEIGHT_LIMIT
    _minute: int = -1
    _used: dict[str, int] = field(default_factory=dict)

    def spend(self, who: str, weight: int, now_ms: int) -> tuple[int, int | None]:
        """The weight used this minute after this request, and None, or the seconds to wait when over."""
        minute = now_ms // MINUTE_MS
        if minute != self._minute:
            self._minute, self._used = minute, {}
        used = self._used.get(who, 0) + weight
        self._used[who] = used
        if used > self.limit:
            return used, max(1, -(-((minute + 1) * MINUTE_MS - now_ms) // 1000))
        return used, None
