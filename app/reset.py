"""Asking for an account reset, the one way both the API (`web/history_views.py`) and the operator's CLI
(`app/admin.py`) do it: a `ResetAccount` command to the user's Executor shard, its accounts' single writer,
answered on the sender's reply stream once the shard committed it.

The request key (`u<user>:<request id>`) makes a repeat apply once: the same request id again is answered
with the reset it made. The web edge checks the password before asking; the CLI speaks for the operator.
"""

from __future__ import annotations

import secrets
import time
import uuid

import redis

from app.messages import CodecError, Reply, ResetAccount, decode, encode
from app.messaging.names import Names, shard_of


def reset_request(names: Names, shards: int, user_id: int, request_id: str | None, reply_to: str,
                  msg_id: str) -> tuple[str, ResetAccount]:
    """The command and the mailbox it goes to; `msg_id` is the reply's correlation id."""
    key = f"u{user_id}:{request_id or secrets.token_urlsafe(18)}"
    msg = ResetAccount(msg_id=msg_id, reply_to=reply_to, user_id=user_id, request_key=key)
    return names.executor(shard_of(user_id, shards)), msg


def ask_reset(client: redis.Redis, names: Names, shards: int, user_id: int, request_id: str | None,
              timeout_s: float) -> Reply | None:
    """Send a reset from outside a web node (the CLI) and wait for its reply on a reply stream of its own;
    None: no answer in time (the command stays queued and takes effect once, when the shard runs)."""
    reply_to = names.reply(f"cli-{uuid.uuid4().hex[:12]}")
    stream, msg = reset_request(names, shards, user_id, request_id, reply_to, uuid.uuid4().hex)
    client.xadd(stream, {"m": encode(msg)})
    deadline, last = time.monotonic() + timeout_s, "0-0"
    try:
        while (left := deadline - time.monotonic()) > 0:
            for _, entries in client.xread({reply_to: last}, count=10, block=max(1, int(min(left, 1.0) * 1000))) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    try:
                        reply = decode(fields[b"m"])
                    except (CodecError, KeyError):
                        continue
                    if isinstance(reply, Reply) and reply.correlation_id == msg.msg_id:
                        return reply
        return None
    finally:
        client.delete(reply_to)
