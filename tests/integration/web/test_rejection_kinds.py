"""The one table from the actors' answers to HTTP (web/refusals.py): every kind maps, each to the status
and problem the API has always answered with, and the actors' replies carry kinds, never statuses."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.cfd.desk import KIND_OF
from app.cfd.rules import DUPLICATE
from app.domain import oco
from app.domain.answers import Answer, RejectionKind
from app.domain.orders import OrderRejected, OrderRequest, OrderType, Side, check_request
from app.domain.symbols import spec_for
from app.messages import CodecError, Reply, decode, encode
from web.problems import Problem, problem
from web.refusals import REJECTIONS, SUCCESSES, rejection, reply_response

BTC = spec_for("BTCUSDT")


def test_every_kind_and_every_success_has_its_status() -> None:
    assert set(REJECTIONS) == set(RejectionKind)
    assert set(SUCCESSES) == set(Answer) - {Answer.REJECTED}
    assert all(400 <= r.status <= 599 for r in REJECTIONS.values())
    assert all(200 <= s <= 299 for s in SUCCESSES.values())


@pytest.mark.parametrize(("kind", "status", "headers"), [
    (RejectionKind.INVALID, 400, None),
    (RejectionKind.FILTER_FAILURE, 422, None),
    (RejectionKind.NOT_FOUND, 404, None),
    (RejectionKind.CONFLICT, 409, None),
    (RejectionKind.NO_FUNDS, 409, None),
    (RejectionKind.TOO_MANY_OPEN_ORDERS, 429, None),
    (RejectionKind.STALE_PRICES, 503, None),
    (RejectionKind.UNAVAILABLE, 503, {"Retry-After": "1"}),
])
def test_each_kind_is_answered_as_the_api_always_did(kind: RejectionKind, status: int,
                                                     headers: dict[str, str] | None) -> None:
    assert (REJECTIONS[kind].status, REJECTIONS[kind].headers) == (status, headers)


def test_a_rejected_reply_becomes_the_problem_document_it_always_was() -> None:
    reply = decode(encode(Reply.rejected("c1", RejectionKind.NOT_FOUND, "UNKNOWN_ORDER", "order 9 does not exist")))
    assert isinstance(reply, Reply)
    with pytest.raises(Problem) as caught:
        reply_response(reply)
    response = problem(caught.value.status, caught.value.detail, code=caught.value.code, field=caught.value.field,
                       headers=caught.value.headers)
    assert response.status == 404 and response.content_type == "application/problem+json"
    assert json.loads(response.text or "") == {"type": "/problems/unknown_order", "title": "UNKNOWN_ORDER",
                                               "status": 404, "detail": "order 9 does not exist",
                                               "code": "UNKNOWN_ORDER"}


def test_a_rejection_keeps_its_field_and_the_kinds_headers() -> None:
    with pytest.raises(Problem) as caught:
        reply_response(Reply.rejected("c", RejectionKind.FILTER_FAILURE, "FILTER_FAILURE", "too small", "quantity"))
    assert (caught.value.status, caught.value.code, caught.value.field) == (422, "FILTER_FAILURE", "quantity")
    unavailable = rejection(RejectionKind.UNAVAILABLE, "UNAVAILABLE", "retry later")
    assert (unavailable.status, unavailable.headers) == (503, {"Retry-After": "1"})


@pytest.mark.parametrize(("answer", "status"), [(Answer.ACCEPTED, 202), (Answer.CREATED, 201), (Answer.OK, 200)])
def test_a_success_answers_with_its_body_and_status(answer: Answer, status: int) -> None:
    reply = decode(encode(Reply.ok("c", answer, {"orderId": 7, "status": "PENDING"})))
    assert isinstance(reply, Reply)
    response = reply_response(reply)
    assert response.status == status and response.content_type == "application/json"
    assert json.loads(response.text or "") == {"orderId": 7, "status": "PENDING"}


def test_a_reply_carries_a_kind_and_no_status() -> None:
    wire = json.loads(encode(Reply.rejected("c", RejectionKind.CONFLICT, "ORDER_NOT_CANCELABLE", "done already")))
    assert wire["d"]["kind"] == "CONFLICT" and wire["d"]["answer"] == "REJECTED" and "status" not in wire["d"]


def test_a_reply_of_the_old_shape_is_refused_by_the_codec_not_misread() -> None:
    """Replies are ephemeral: one in flight across an upgrade is skipped, and its handler answers UNAVAILABLE."""
    with pytest.raises(CodecError):
        decode(b'{"v":1,"t":"Reply","d":{"msg_id":"reply:c","correlation_id":"c","status":202,"body":{}}}')


def test_the_order_checks_refuse_with_the_kinds_of_their_old_statuses() -> None:
    def kind_of(req: OrderRequest) -> tuple[RejectionKind, str]:
        with pytest.raises(OrderRejected) as caught:
            check_request(req, BTC)
        return caught.value.kind, caught.value.code
    market = OrderRequest("c", "BTCUSDT", Side.BUY, OrderType.MARKET, price=Decimal(1))
    tiny = OrderRequest("c", "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=Decimal("0.000001"),
                        price=Decimal("60000"))
    assert kind_of(market) == (RejectionKind.INVALID, "INVALID_PARAMS")  # was 400
    assert kind_of(tiny) == (RejectionKind.FILTER_FAILURE, "FILTER_FAILURE")  # was 422
    with pytest.raises(OrderRejected) as caught:
        oco.leg_requests("l", "BTCUSDT", Side.SELL, Decimal("0.01"), Decimal("60000"), None, None, None, None, None,
                         BTC)
    assert caught.value.kind is RejectionKind.INVALID


def test_the_desks_refusals_keep_their_statuses() -> None:
    statuses = {code: REJECTIONS[kind].status for code, kind in KIND_OF.items()}
    assert statuses == {"NOT_OPEN": 404, "NO_FUNDS": 409, DUPLICATE: 409, "NO_PRICE": 503}

