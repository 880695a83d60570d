"""The hops of one order through Troupe, and what a finished trace says about them (pure, no I/O).

With `TRACE_HOPS=1` the web edge starts a trace on each `PlaceOrder`: a dict hop name →
`time.monotonic_ns()`. Every stage it crosses adds its hop to that same dict (the Gateway and
the Executor when they read it, each actor right after its commit, the Broadcaster,
the WebSocket hub), the `SubmitOrder` and the order's `OrderUpdated` carry it on, and the
`ORDER_UPDATE` frame shows it as `trace`. Off (the default) the field is `None` and is left out
of the encoded message, so nothing changes on the wire and the cost is one `is None` test per hop.

The clock is `CLOCK_MONOTONIC`, which on Linux is one clock for every process of the machine: a
split deployment on one host (ROLE=web + ROLE=executor) and the benchmark process read the same
clock. Across hosts the stamps are not comparable (switch `now_ns` to `time.time_ns` and accept
the clock skew).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

Trace = dict[str, int]

HTTP_ACCEPTED = "http_accepted"  # the order handler started (auth, rate limit and parse follow)
GATEWAY_READ = "gateway_read"  # the Gateway read the PlaceOrder from its mailbox
GATEWAY_COMMITTED = "gateway_committed"  # the order row and its outbox row are committed
EXECUTOR_READ = "executor_read"  # the Executor read the SubmitOrder
EXECUTOR_COMMITTED = "executor_committed"  # the fill, ledger and the events' outbox row are committed
BROADCASTER_READ = "broadcaster_read"  # the Broadcaster read the EventBatch
WS_QUEUED = "ws_queued"  # the hub rendered the frame and queued it on the user's socket (event loop)
WS_WRITTEN = "ws_written"  # the socket's sender took it off the queue to write it

HOPS: tuple[str, ...] = (HTTP_ACCEPTED, GATEWAY_READ, GATEWAY_COMMITTED, EXECUTOR_READ, EXECUTOR_COMMITTED,
                         BROADCASTER_READ, WS_QUEUED, WS_WRITTEN)
# Stamps only a client can take: when it sent the request and when the FILLED frame arrived.
SENT = "sent"
RECEIVED = "received"
CLIENT_HOPS: tuple[str, ...] = (SENT, *HOPS, RECEIVED)

now_ns = time.monotonic_ns


def stamp(trace: Trace | None, hop: str) -> None:
    """Record `hop` now, if this order is traced."""
    if trace is not None:
        trace[hop] = now_ns()


def completed(trace: Mapping[str, int], order: Iterable[str] = CLIENT_HOPS) -> dict[str, float]:
    """The duration of each hop in seconds, named by the hop that ends it (the time since the previous
    recorded hop); hops the trace lacks are skipped. This is what a per-hop latency histogram observes."""
    out: dict[str, float] = {}
    previous: int | None = None
    for hop in order:
        at = trace.get(hop)
        if at is None:
            continue
        if previous is not None:
            out[hop] = (at - previous) / 1e9
        previous = at
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, nearest rank; NaN for none."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def summarise(traces: Iterable[Mapping[str, int]], order: Iterable[str] = CLIENT_HOPS) -> dict[str, dict[str, float]]:
    """p50/p99 (ms) of each hop over many finished traces, in path order."""
    hops = tuple(order)
    samples: dict[str, list[float]] = {hop: [] for hop in hops}
    for trace in traces:
        for hop, seconds in completed(trace, hops).items():
            samples[hop].append(seconds * 1000)
    out: dict[str, dict[str, float]] = {}
    for hop in hops:
        values = sorted(samples[hop])
        if values:
            out[hop] = {"p50": round(percentile(values, 0.5), 3), "p99": round(percentile(values, 0.99), 3)}
    return out
