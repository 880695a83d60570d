"""The container files cannot drift from the code: compose.yaml and the Dockerfile set only variables
that Troupe reads (settings.py), the split deployment keeps the rules of docs/architecture.md (every
shard in exactly one executor node, one NODE_NAME each, the same database, Redis and secrets
everywhere), and every service keeps its data in a volume.

This machine (and CI) has no Docker engine, so the files are read here, not run: compose.yaml is
parsed by `read_yaml`, a reader of the plain block YAML it is written in (mappings, lists, scalars,
JSON-style flow lists), which refuses anything else rather than guess.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.support.helpers import ROOT, known_settings

# Variables the image sets for Python itself, not for Troupe.
NOT_TROUPE = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}


def _scalar(text: str) -> Any:
    if text.startswith("["):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text in ("{", "}", "|", ">", "&", "*") or text[:1] in "&*!{|>":
        raise ValueError(f"read_yaml does not read {text!r}")
    return text


def read_yaml(text: str) -> Any:
    """Block mappings and lists of scalars, two-space indents, `#` comments on their own lines."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            lines.append((len(raw) - len(raw.lstrip(" ")), stripped))
    pos = 0

    def block(indent: int) -> Any:
        nonlocal pos
        if lines[pos][1].startswith("- "):
            items: list[Any] = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                items.append(_scalar(lines[pos][1][2:]))
                pos += 1
            return items
        mapping: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][0] == indent:
            key, sep, rest = lines[pos][1].partition(":")
            if not sep or key in mapping or (rest and not rest.startswith(" ")):
                raise ValueError(f"line {lines[pos][1]!r}: not a new key: value")
            pos += 1
            if rest.strip():
                mapping[key] = _scalar(rest.strip())
            elif pos < len(lines) and lines[pos][0] > indent:
                mapping[key] = block(lines[pos][0])
            else:
                mapping[key] = None
        if pos < len(lines) and lines[pos][0] > indent:
            raise ValueError(f"line {lines[pos][1]!r}: unexpected indent")
        return mapping

    result = block(0)
    assert pos == len(lines), f"unread from line {lines[pos]!r}"
    return result


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return read_yaml((ROOT / "compose.yaml").read_text())


def _troupe_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("build") == "."}


def test_compose_sets_only_troupe_settings(compose: dict[str, Any]) -> None:
    known = known_settings()
    services = _troupe_services(compose)
    assert set(services) == {"web", "executor-0", "executor-1"}
    for name, service in services.items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which settings.py does not read"


def test_the_split_deployment_keeps_the_rules(compose: dict[str, Any]) -> None:
    services = _troupe_services(compose)
    envs = {name: s["environment"] for name, s in services.items()}
    assert envs["web"]["ROLE"] == "web" and envs["web"]["PORT"] == "8080"
    assert "8080:8080" in services["web"]["ports"]
    executors = {n: e for n, e in envs.items() if e["ROLE"] == "executor"}
    assert len(executors) == 2
    shards = int(envs["web"]["EXECUTOR_SHARDS"])
    owned = sorted(int(s) for e in executors.values() for s in e["EXECUTOR_SHARD_IDS"].split(","))
    assert owned == list(range(shards))  # every shard in exactly one executor node
    assert len({e["NODE_NAME"] for e in envs.values()}) == len(envs)  # one name per node
    for key in ("DATABASE_URL", "REDIS_URL", "EXECUTOR_SHARDS"):
        assert len({e[key] for e in envs.values()}) == 1, key
    assert envs["web"]["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in envs["web"]["DATABASE_URL"]
    assert envs["web"]["REDIS_URL"].startswith("redis://redis:")
    for key in ("JWT_SECRET", "MASTER_KEY"):
        assert all(re.match(r"\$\{" + key + r"[}:]", e[key]) for e in envs.values()), key  # one secret, from .env
    for env in executors.values():
        assert int(env["METRICS_PORT"]) > 0  # the executor's /metrics, and /readyz for its health check
    for name, service in services.items():
        assert any(v.endswith(":/data") for v in service["volumes"]), f"{name} keeps /data (CFD journals)"


def test_postgres_and_redis_persist(compose: dict[str, Any]) -> None:
    services, volumes = compose["services"], compose["volumes"]
    assert "appendonly" in " ".join(services["redis"]["command"]) and "yes" in services["redis"]["command"]
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        mounts = dict(v.split(":", 1)[::-1] for v in services[name]["volumes"])
        assert mounts[path] in volumes
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    for service in _troupe_services(compose).values():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition["condition"] == "service_healthy", dependency


def test_dockerfile_sets_only_troupe_settings_runs_unprivileged_and_checks_readiness() -> None:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    env_lines = [line[4:] for line in joined.splitlines() if line.startswith("ENV ")]
    names = {m.group(1) for line in env_lines for m in re.finditer(r"([A-Z_][A-Z0-9_]*)=", line)}
    assert names and not names - known_settings() - NOT_TROUPE
    users = [line.split()[1] for line in joined.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    health = next(line for line in joined.splitlines() if line.startswith("HEALTHCHECK "))
    assert "/readyz" in health and "METRICS_PORT" in health
    for path in ("app", "actors", "web", "templates", "static", "settings.py", "run.py"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", text, flags=re.MULTILINE), path
    assert "requirements.txt" in text  # the pinned packages, nothing unpinned


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "node_modules", "data", "dist", "build", ".git"} <= ignored


def test_compose_config_validates() -> None:
    """`docker-compose config` (or the `docker compose` plugin) validates the file against the Compose
    schema offline; `make test` installs Debian's docker-compose for it."""
    env = {"POSTGRES_PASSWORD": "p" * 16, "JWT_SECRET": "j" * 40, "MASTER_KEY": "0" * 64, "PATH": "/usr/bin:/bin"}
    tools = [["docker-compose"]] if shutil.which("docker-compose") else []
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 check=False).returncode == 0:
        tools.append(["docker", "compose"])
    assert tools, "no docker-compose to validate compose.yaml with: `make test` installs it"
    for tool in tools:
        done = subprocess.run([*tool, "-f", str(ROOT / "compose.yaml"), "config", "-q"], capture_output=True,
                              text=True, env=env, check=False, cwd=ROOT)
        assert done.returncode == 0, done.stderr
