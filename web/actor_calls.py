"""Asking an actor from a handler: send a command to its mailbox, await the reply, answer with it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.domain.answers import RejectionKind
from web.app_keys import REPLIES, RUNTIME, SETTINGS
from web.refusals import rejection, reply_response

COMMAND_TIMEOUT_S = 10.0


def addressed(request: web.Request) -> dict[str, str]:
    """A command's envelope from this node: a fresh message id and the node's reply stream."""
    return {"msg_id": request.app[REPLIES].new_id(),
            "reply_to": request.app[RUNTIME].names.reply(request.app[SETTINGS].node_name)}


async def ask_actor(request: web.Request, stream: str, msg: Any, who: str, retry_hint: str = "") -> web.Response:
    """Send a command to an actor's mailbox and answer with its reply (web/refusals.py gives the status);
    UNAVAILABLE if it does not come."""
    try:
        reply = await request.app[REPLIES].ask(stream, msg, COMMAND_TIMEOUT_S)
    except TimeoutError:
        raise rejection(RejectionKind.UNAVAILABLE, "UNAVAILABLE",
                        f"the {who} did not answer in time{retry_hint}") from None
    return reply_response(reply)
