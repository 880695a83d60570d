"""The supervisor restarts dead actors, refuses to start broken ones, and gives up loudly."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from actors.base import Ping
from actors.supervisor import ChildSpec, Supervisor, SupervisorError


class Worker(pykka.ThreadingActor):
    starts = 0

    def __init__(self, fail_on_start: bool = False) -> None:
        super().__init__()
        self.fail_on_start = fail_on_start

    def on_start(self) -> None:
        Worker.starts += 1
        if self.fail_on_start:
            raise RuntimeError("cannot start")

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return "ok"
        if message == "crash":
            raise RuntimeError("boom")  # in a tell: pykka stops the actor
        return None


def _wait_restarted(sup: Supervisor, child: str, old: pykka.ActorRef) -> pykka.ActorRef:
    done = threading.Event()
    for _ in range(200):
        ref = sup._children[[c.spec.name for c in sup._children].index(child)].ref
        if ref is not None and ref is not old and ref.is_alive():
            return ref
        done.wait(0.05)
    raise AssertionError("not restarted")


def test_a_crashed_child_is_restarted() -> None:
    sup = Supervisor([ChildSpec("w", Worker.start)], give_up=lambda reason: None)
    sup.start()
    old = sup._children[0].ref
    assert old is not None
    old.tell("crash")
    new = _wait_restarted(sup, "w", old)
    assert new.ask(Ping()) == "ok" and sup.healthy
    sup.stop()
    assert not new.is_alive()


def test_a_child_failing_in_on_start_fails_startup_clearly() -> None:
    sup = Supervisor([ChildSpec("ok", Worker.start), ChildSpec("bad", lambda: Worker.start(True))],
                     give_up=lambda reason: None, ready_timeout=5)
    with pytest.raises(SupervisorError, match="bad did not become ready"):
        sup.start()
    assert not any(ref.is_alive() for ref in pykka.ActorRegistry.get_all())


def test_too_many_restarts_gives_up_and_reports_unhealthy() -> None:
    reasons: list[str] = []
    gave_up = threading.Event()

    def give_up(reason: str) -> None:
        reasons.append(reason)
        gave_up.set()

    sup = Supervisor([ChildSpec("w", Worker.start, max_restarts=2, within_s=60)], give_up=give_up)
    sup.start()
    for _ in range(3):
        ref = sup._children[0].ref
        assert ref is not None
        ref.tell("crash")
        if gave_up.wait(0) is False:
            try:
                _wait_restarted(sup, "w", ref)
            except AssertionError:
                break
    assert gave_up.wait(10)
    assert "giving up" in reasons[0] and not sup.healthy
    sup.stop()


def test_fatal_errors_are_escalated_once() -> None:
    reasons: list[str] = []
    sup = Supervisor([ChildSpec("w", Worker.start)], give_up=reasons.append)
    sup.start()
    sup.fatal("w raised SystemExit")
    sup.fatal("again")
    assert reasons == ["w raised SystemExit"] and not sup.healthy
    sup.stop()
