"""Login and registration limits: nobody can lock an owner out, and nobody can guess quickly.

The rule, with A = AUTH_RATE_PER_MIN, F = LOGIN_FAILURES_PER_MIN, N = LOGIN_SLOWDOWN_AFTER:

- `login:ip:<address>`: every attempt from an address takes one of A per minute, before any
  password is checked (so a flood cannot make bcrypt burn the CPU either).
- `login:ip-email:<address>:<e-mail>`: wrong passwords from one address for one e-mail, F per
  minute. An attempt reserves one before the check and a correct password gives it back, so only
  failures spend this budget, and a burst of concurrent guesses cannot all slip past it.
- `login:email:<e-mail>`: one e-mail's failures from every address. It never refuses anything,
  so other addresses can never block the owner. Once it holds more than N recent failures (they
  fade at N per 15 minutes) each further *failure* is answered only after a delay of 250 ms,
  doubling up to LOGIN_SLOWDOWN_MAX_MS. A correct password is never delayed. (A client that gives
  up on slow answers learns that they were failures; what bounds it is the per-address budgets.)
- `register:ip:<address>`: registrations, A per minute.

So an address that is not misbehaving always gets its correct login through, whatever other
addresses do. Registered and unknown e-mails are treated alike, and bucket names carry a hash of
the e-mail, not the e-mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import math

from aiohttp import web

from settings import Settings
from web.app_keys import SETTINGS
from web.plumbing import client_address
from web.ratelimit import Budget, Step, enforce

SLOWDOWN_BASE_MS = 250
SLOWDOWN_FADE_S = 15 * 60  # N failures of an e-mail are forgotten per this many seconds
TOO_MANY = "too many attempts; wait and try again"


def failure_delay_s(failures: int, after: int, max_ms: int) -> float:
    """How long to hold the answer to a failure when its e-mail has `failures` recent ones (this one
    included): nothing up to `after`, then 250 ms doubling per failure, at most `max_ms`."""
    if failures <= after:
        return 0.0
    return min(max_ms, SLOWDOWN_BASE_MS * 2 ** min(failures - after - 1, 30)) / 1000


def _email_failures(s: Settings) -> Budget:
    """Fades at N per SLOWDOWN_FADE_S; saturates where the delay reaches its cap."""
    doublings = math.ceil(math.log2(max(s.login_slowdown_max_ms, SLOWDOWN_BASE_MS) / SLOWDOWN_BASE_MS))
    return Budget(s.login_slowdown_after / SLOWDOWN_FADE_S, s.login_slowdown_after + doublings + 1)


def _tag(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _ip_email(request: web.Request, email: str, cost: int, strict: bool) -> Step:
    per_min = request.app[SETTINGS].login_failures_per_min
    return Step(f"login:ip-email:{client_address(request)}:{_tag(email)}", Budget.per_minute(per_min), cost, strict)


async def before_login(request: web.Request, email: str) -> None:
    """Before the password is checked: 429 when this address, or this address for this e-mail, is over."""
    address_budget = Budget.per_minute(request.app[SETTINGS].auth_rate_per_min)
    await enforce(request, TOO_MANY, Step(f"login:ip:{client_address(request)}", address_budget),
                  _ip_email(request, email, 1, strict=True))


async def login_succeeded(request: web.Request, email: str) -> None:
    """A correct password gives back what `before_login` reserved from the failures budget."""
    await enforce(request, TOO_MANY, _ip_email(request, email, -1, strict=False))  # lenient: never refused


async def login_failed(request: web.Request, email: str) -> None:
    """Count the failure against its e-mail and hold the answer as long as that e-mail's record says."""
    s = request.app[SETTINGS]
    verdict = await enforce(request, TOO_MANY, Step(f"login:email:{_tag(email)}", _email_failures(s), 1, strict=False))
    delay = failure_delay_s(verdict.levels[0], s.login_slowdown_after, s.login_slowdown_max_ms)
    if delay:
        await asyncio.sleep(delay)


async def before_register(request: web.Request) -> None:
    budget = Budget.per_minute(request.app[SETTINGS].auth_rate_per_min)
    await enforce(request, TOO_MANY, Step(f"register:ip:{client_address(request)}", budget))
