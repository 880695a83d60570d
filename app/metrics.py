"""Prometheus metrics: one registry per process, scraped from each process (never shared files).

Troupe's nodes are separate processes (`ROLE=web`, `ROLE=executor`), each with its own registry:
a web node serves it on its HTTP port (`/metrics`), an executor node on `METRICS_PORT`
(web/metrics_views.py). Prometheus scrapes every node and sums across them, so there is no
`PROMETHEUS_MULTIPROC_DIR` to clean after a crash and no file I/O on the hot path. Counters are
incremented after the commit they count, so a rolled-back batch is never counted.

Cluster-wide facts that live in Redis (mailbox lag and pending entries, price age) are sampled
by the web node when it is scraped (`record_group`, `record_price`), never per message.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no `_created` series: Prometheus does not use them and they double the output
REGISTRY = CollectorRegistry(auto_describe=True)

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ORDERS = Counter("troupe_orders", "Orders by outcome: accepted (durable at the Gateway), rejected (refused "
                 "or rejected), and each terminal status (FILLED, CANCELED, EXPIRED, REJECTED)",
                 ["venue", "type", "outcome"], registry=REGISTRY)
HOP_SECONDS = Histogram("troupe_hop_seconds", "Seconds an order spends in each hop of its path "
                        "(accept_to_commit: mailbox entry to the Gateway's commit; submit_to_commit: the "
                        "executor mailbox entry to the Executor's commit; ws_fanout: the hub's send to sockets)",
                        ["hop"], buckets=_FAST, registry=REGISTRY)
DB_COMMIT_SECONDS = Histogram("troupe_db_transaction_seconds", "A batch's write transaction, commit included",
                              ["actor"], buckets=_FAST, registry=REGISTRY)
ACTOR_RESTARTS = Counter("troupe_actor_restarts", "Actors restarted by the supervisor", ["actor"],
                         registry=REGISTRY)
WS_CONNECTIONS = Gauge("troupe_ws_connections", "Open browser WebSockets on this node", registry=REGISTRY)
WS_DROPPED = Counter("troupe_ws_dropped_slow_clients", "WebSockets closed because they stopped reading",
                     registry=REGISTRY)
CFD_OPEN = Gauge("troupe_cfd_open_positions", "Open CFD positions per executor shard", ["shard"],
                 registry=REGISTRY)
CFD_CLOSES = Counter("troupe_cfd_closes", "CFD positions ended, by how (CLOSED, STOP_LOSS, TAKE_PROFIT, "
                     "LIQUIDATED)", ["kind"], registry=REGISTRY)
MAILBOX_PENDING = Gauge("troupe_mailbox_pending", "Entries delivered to a consumer group and not yet acked",
                        ["stream", "group"], registry=REGISTRY)
MAILBOX_LAG = Gauge("troupe_mailbox_lag_seconds", "Age of the oldest entry of a stream the group has not "
                    "read yet (0: caught up)", ["stream", "group"], registry=REGISTRY)
MAILBOX_LAG_ENTRIES = Gauge("troupe_mailbox_lag_entries", "Entries not yet read by the group (Redis 7+)",
                            ["stream", "group"], registry=REGISTRY)
PRICE_AGE = Gauge("troupe_price_age_seconds", "Seconds since the price feed's last tick of a symbol",
                  ["symbol"], registry=REGISTRY)
PRICE_STALE = Gauge("troupe_price_stale", "1 while a symbol's live market data is marked stale", ["symbol"],
                    registry=REGISTRY)

HOPS = ("accept_to_commit", "submit_to_commit", "ws_fanout")
_hop = {name: HOP_SECONDS.labels(name) for name in HOPS}  # label lookups done once, not per order


def observe_hops(durations: Mapping[str, float]) -> None:
    """Record one order's (or batch's) hop durations in seconds; a hop this module does not know is kept too."""
    for name, seconds in durations.items():
        child = _hop.get(name)
        if child is None:
            child = _hop[name] = HOP_SECONDS.labels(name)
        child.observe(seconds)


def entry_ms(entry_id: str) -> int:
    """The milliseconds part of a Redis Stream entry id: when the entry was added."""
    return int(entry_id.partition("-")[0])


def count_orders(venue: str, outcomes: list[tuple[str, str]]) -> None:
    """Count (type, outcome) pairs of one committed batch."""
    for order_type, outcome in outcomes:
        ORDERS.labels(venue, order_type, outcome).inc()


def record_group(stream: str, group: str, pending: int, first_unread_ms: int | None, lag: int | None,
                 now_ms: int) -> None:
    """One consumer group of one stream: its pending entries, the age of its oldest unread entry
    (`first_unread_ms`, None when it has read everything) and, from Redis 7 on, its unread count."""
    MAILBOX_PENDING.labels(stream, group).set(pending)
    MAILBOX_LAG.labels(stream, group).set(0 if first_unread_ms is None else max(0, now_ms - first_unread_ms) / 1000)
    if lag is not None:
        MAILBOX_LAG_ENTRIES.labels(stream, group).set(lag)


def record_price(symbol: str, tick_ms: int | None, stale: bool, now_ms: int) -> None:
    if tick_ms is not None:
        PRICE_AGE.labels(symbol).set(max(0, now_ms - tick_ms) / 1000)
    PRICE_STALE.labels(symbol).set(1 if stale else 0)
