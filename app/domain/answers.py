"""What a command's answer is, in the domain's terms: how it went, and why it was refused.

Actors answer with these; the web edge alone (`web/refusals.py`) turns them into HTTP statuses, so
a second interface renders the same answers without the domain knowing about either.
"""

from __future__ import annotations

from enum import StrEnum


class Answer(StrEnum):
    """How a command went."""

    ACCEPTED = "ACCEPTED"  # stored; its effect follows (an order is queued for execution)
    CREATED = "CREATED"  # done, and it made something new (a CFD position)
    OK = "OK"  # done (or a repeat of a command already done: the same answer again)
    REJECTED = "REJECTED"  # refused; the rejection says why with a RejectionKind


class RejectionKind(StrEnum):
    """Why a command was refused: a closed set, each kind answered one way at every interface."""

    INVALID = "INVALID"  # the request itself is wrong (missing or extra fields, an unknown symbol)
    FILTER_FAILURE = "FILTER_FAILURE"  # well-formed, but outside the symbol's filters
    NOT_FOUND = "NOT_FOUND"  # what it names does not exist (or is not open)
    CONFLICT = "CONFLICT"  # contradicts what exists (a reused id, a finished order, a desk not offered here)
    NO_FUNDS = "NO_FUNDS"  # not enough free balance or margin
    TOO_MANY_OPEN_ORDERS = "TOO_MANY_OPEN_ORDERS"  # the account's cap on open orders is reached
    STALE_PRICES = "STALE_PRICES"  # no live price to act on
    UNAVAILABLE = "UNAVAILABLE"  # could not be processed now; nothing was stored, retry later
