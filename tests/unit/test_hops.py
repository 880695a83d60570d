"""app/hops.py: hop durations from a finished trace, and the summary the benchmark prints."""

from __future__ import annotations

from app import hops


def test_completed_names_each_hop_by_the_hop_that_ends_it() -> None:
    trace = {hops.SENT: 1_000_000, hops.HTTP_ACCEPTED: 1_500_000, hops.GATEWAY_READ: 3_500_000,
             hops.WS_WRITTEN: 4_000_000, hops.RECEIVED: 4_250_000}
    assert hops.completed(trace) == {hops.HTTP_ACCEPTED: 0.0005, hops.GATEWAY_READ: 0.002,
                                     hops.WS_WRITTEN: 0.0005, hops.RECEIVED: 0.00025}


def test_a_server_side_trace_has_no_client_hops() -> None:
    trace = {hops.HTTP_ACCEPTED: 0, hops.GATEWAY_READ: 1_000, hops.GATEWAY_COMMITTED: 3_000}
    assert hops.completed(trace) == {hops.GATEWAY_READ: 1e-6, hops.GATEWAY_COMMITTED: 2e-6}
    assert hops.completed({}) == {}


def test_summarise_gives_p50_and_p99_per_hop_in_path_order() -> None:
    traces = [{hops.HTTP_ACCEPTED: 0, hops.GATEWAY_READ: k * 1_000_000} for k in range(1, 101)]
    summary = hops.summarise(traces)
    assert list(summary) == [hops.GATEWAY_READ]
    assert summary[hops.GATEWAY_READ] == {"p50": 51.0, "p99": 100.0}


def test_stamp_records_only_a_traced_order() -> None:
    hops.stamp(None, hops.WS_QUEUED)  # untraced: nothing to do
    trace: hops.Trace = {}
    hops.stamp(trace, hops.WS_QUEUED)
    assert set(trace) == {hops.WS_QUEUED}
