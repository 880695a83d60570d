"""`troupe db migrate|status|backup` and `troupe keys rotate-master`, run as an operator runs them.

The database of commit 82e4bfe (before migrations) is reported, backed up, migrated, and served again
with its orders and balances; the MASTER_KEY rotation is SIGKILLed at each of its steps and completed
by the next run (or the next server start), with every secret opening under the final key only.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from app.persistence.api_keys import VAULT_DOMAIN, create_key, revoke_key
from app.persistence.db import db
from app.persistence.exchange import EXCHANGE
from app.persistence.migrations import LATEST, MIGRATIONS, SchemaVersion
from app.persistence.models import ApiKey, ExchangeKey
from app.persistence.schema import init_database
from app.persistence.sealing import sealed_by
from app.security.keystore import resolve_secrets
from app.security.rotation import fingerprint
from app.security.vault import Vault, VaultError
from tests.support.helpers import PASSWORD, ROOT, ServerProcess, auth, run_until_exit, server_env
from web.api_key_auth import VAULT_DOMAIN as WEB_VAULT_DOMAIN

ALL = ", ".join(m.label for m in MIGRATIONS)  # every migration, in order: what a new database gets
APPLIED = [f"applied {m.label}" for m in MIGRATIONS] + [f"schema version {LATEST}"]

FIXTURE = ROOT / "tests" / "fixtures" / "troupe-82e4bfe.db"
HELP_ARGS = [["db"], ["db", "migrate"], ["db", "status"], ["db", "backup"], ["keys"], ["keys", "rotate-master"]]


def troupe(data: Path, *args: str, database_url: str = "", fault: str = "", **extra: str,
           ) -> subprocess.CompletedProcess[str]:
    """`python run.py …` on DATA_DIR `data` (the bundled Redis, SQLite unless `database_url`)."""
    env = server_env(data, extra)
    for name in ("DATABASE_URL", "REDIS_URL", "MASTER_KEY"):
        if name not in extra:
            env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    if fault:
        env["TROUPE_FAULT"] = fault
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=data.parent, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("args", HELP_ARGS, ids=" ".join)
def test_help_writes_nothing(tmp_path: Path, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *args, "--help"], cwd=tmp_path,
                          env=server_env(tmp_path / "data", {}), capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: troupe"), proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_status_of_a_database_not_created_yet_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = troupe(data, "db", "status")
    assert proc.returncode == 0, proc.stderr
    assert f"not created yet; pending: {ALL}" in proc.stdout
    assert not data.exists()


async def _sign_in_and_read(url: str, email: str) -> tuple[list[dict[str, object]], dict[str, str]]:
    async with aiohttp.ClientSession(url) as http:
        resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["token"]
        orders = await (await http.get("/api/trading/orders", headers=auth(token))).json()
        balances = (await (await http.get("/api/trading/balances", headers=auth(token))).json())["balances"]
    rows = orders if isinstance(orders, list) else orders["orders"]
    return rows, {b["asset"]: b["free"] for b in balances}


def test_the_old_database_is_reported_backed_up_migrated_and_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURE, data / "troupe.db")

    status = troupe(data, "db", "status")
    assert status.returncode == 0, status.stderr
    assert "schema version none (a database from before migrations)" in status.stdout
    assert f"pending: {ALL}" in status.stdout

    migrate = troupe(data, "db", "migrate")
    assert migrate.returncode == 0, migrate.stderr
    lines = migrate.stdout.splitlines()
    assert lines[0].startswith(f"backed up to {data / 'backups' / 'troupe-before-0001_baseline-'}")
    assert lines[1:] == APPLIED
    again = troupe(data, "db", "migrate")
    assert again.stdout.strip() == f"schema version {LATEST} (up to date: nothing to apply)"
    assert "pending: none (up to date)" in troupe(data, "db", "status").stdout

    copy = tmp_path / "copy.db"
    backup = troupe(data, "db", "backup", str(copy))
    assert backup.returncode == 0 and backup.stdout.startswith(f"backed up to {copy} ("), backup.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute('SELECT count(*) FROM "order"').fetchone() == (10,)
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (LATEST,)
    into_dir = troupe(data, "db", "backup")
    assert into_dir.returncode == 0 and f"backed up to {data / 'backups' / 'troupe-'}" in into_dir.stdout

    server = ServerProcess(data)
    url = server.start()
    try:
        orders, free = asyncio.run(_sign_in_and_read(url, "alice@example.com"))
    finally:
        server.stop()
    assert sorted(str(o["status"]) for o in orders) == ["CANCELED", "FILLED", "FILLED", "FILLED", "NEW"]
    assert (free["BTC"], free["ETH"], free["USDT"]) == ("1.01385513", "10.4995", "7317.54595806")


def test_backup_of_postgresql_prints_the_pg_dump_advice(tmp_path: Path) -> None:
    """Exit status 1: a script that backs up must not believe a dump exists (nothing is connected to)."""
    proc = troupe(tmp_path / "data", "db", "backup", database_url="postgresql://troupe:s3cret@db.invalid/troupe")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "pg_dump --format=custom --file=troupe.dump 'postgresql://troupe:***@db.invalid/troupe'" in proc.stderr
    assert "no backup was made" in proc.stderr and "s3cret" not in proc.stderr


def test_migrate_and_status_on_either_database(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    first = troupe(data, "db", "migrate", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == APPLIED
    status = troupe(data, "db", "status", database_url=database_url)
    assert f"schema version {LATEST}" in status.stdout and "pending: none (up to date)" in status.stdout


# --- keys rotate-master ---------------------------------------------------------------------------

@dataclass
class Sealed:
    data: Path
    url: str
    plain: dict[str, str]  # what each sealed column must still open to


@pytest.fixture
def sealed(tmp_path: Path, database_url: str) -> Iterator[Sealed]:
    """A DATA_DIR whose generated MASTER_KEY sealed an exchange key pair and two API-key secrets (one revoked)."""
    data = tmp_path / "data"
    _, key = resolve_secrets(data, "", "")
    vault = Vault(key)
    init_database(database_url)
    try:
        # Inserted directly: save_exchange_key's on_conflict_replace is SQLite-only (reported, not mine to fix).
        ExchangeKey.insert(user_id=7, exchange=EXCHANGE, api_key_last4="AK-7",
                           api_key_enc=vault.seal("AK-7", user_id=7, exchange=EXCHANGE, label="api_key"),
                           secret_enc=vault.seal("SK-7", user_id=7, exchange=EXCHANGE, label="secret")).execute()
        ids = [create_key(7, f"hash{n}", "abcd", f"bot {n}", "read", "", None,
                          lambda i, n=n: vault.seal(f"secret-{n}", user_id=7, exchange=VAULT_DOMAIN, label=f"key:{i}"),
                          5) for n in (1, 2)]
        revoke_key(7, ids[1])
    finally:
        db.close()
    yield Sealed(data, database_url, {"api_key": "AK-7", "secret": "SK-7", f"key:{ids[0]}": "secret-1"})


def _opened(s: Sealed, key: str) -> dict[str, str]:
    """Every stored secret opened with `key` (VaultError if any does not open)."""
    vault = Vault(key)
    init_database(s.url)
    try:
        pair = ExchangeKey.get()
        out = {label: vault.open(bytes(getattr(pair, f"{label}_enc")), user_id=7, exchange=EXCHANGE, label=label)
               for label in ("api_key", "secret")}
        for row in ApiKey.select().where(ApiKey.secret_enc != b""):
            out[f"key:{row.id}"] = vault.open(bytes(row.secret_enc), user_id=7, exchange=VAULT_DOMAIN,
                                              label=f"key:{row.id}")
        assert ApiKey.select().where(ApiKey.secret_enc == b"").count() == 1  # the revoked one stays empty
        return out
    finally:
        db.close()


def _recorded(s: Sealed) -> str | None:
    init_database(s.url)
    try:
        return sealed_by()
    finally:
        db.close()


def _key(path: Path) -> str:
    return path.read_text().strip()


def test_the_api_key_domain_is_the_one_the_web_layer_seals_with() -> None:
    assert VAULT_DOMAIN == WEB_VAULT_DOMAIN


def test_rotation_reseals_every_secret_under_a_new_key(sealed: Sealed) -> None:
    old = _key(sealed.data / "master_key")
    proc = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url)
    assert proc.returncode == 0, proc.stderr
    new = _key(sealed.data / "master_key")
    assert new != old and not (sealed.data / "master_key.next").exists()
    assert (sealed.data / "master_key").stat().st_mode & 0o777 == 0o600
    assert proc.stdout.strip() == (f"MASTER_KEY rotated: 1 exchange key pair(s) and 1 API-key secret(s) re-sealed; "
                                   f"new key fingerprint {fingerprint(new)}")
    assert old not in proc.stdout + proc.stderr and new not in proc.stdout + proc.stderr
    assert _opened(sealed, new) == sealed.plain and _recorded(sealed) == fingerprint(new)
    with pytest.raises(VaultError):
        _opened(sealed, old)


@pytest.mark.parametrize("point", ["rotation.next_written", "rotation.resealing", "rotation.committed"])
def test_a_rotation_killed_at_any_step_is_completed_by_the_next_run(sealed: Sealed, point: str) -> None:
    old = _key(sealed.data / "master_key")
    crashed = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url, fault=point)
    assert crashed.returncode == -9, crashed.stderr
    nxt = _key(sealed.data / "master_key.next")
    assert _key(sealed.data / "master_key") == old  # the swap is the last step
    if point == "rotation.committed":
        assert _opened(sealed, nxt) == sealed.plain and _recorded(sealed) == fingerprint(nxt)
    else:  # the re-sealing transaction never committed (or never began)
        assert _opened(sealed, old) == sealed.plain and _recorded(sealed) is None

    resumed = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url)
    assert resumed.returncode == 0, resumed.stderr
    final = _key(sealed.data / "master_key")
    assert final == nxt and not (sealed.data / "master_key.next").exists()
    assert _opened(sealed, final) == sealed.plain and _recorded(sealed) == fingerprint(final)


def test_a_server_start_finishes_a_committed_rotation_and_rotation_waits_for_servers(sealed: Sealed) -> None:
    crashed = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url, fault="rotation.committed")
    assert crashed.returncode == -9
    nxt = _key(sealed.data / "master_key.next")
    server = ServerProcess(sealed.data, {"DATABASE_URL": sealed.url})
    server.start()
    try:
        assert _key(sealed.data / "master_key") == nxt and not (sealed.data / "master_key.next").exists()
        refused = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url)
        assert refused.returncode == 1 and "a server is running (node " in refused.stderr
    finally:
        server.stop()
    assert _key(sealed.data / "master_key") == nxt and _opened(sealed, nxt) == sealed.plain


def test_a_master_key_that_did_not_seal_the_secrets_is_refused(sealed: Sealed) -> None:
    assert troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url).returncode == 0
    (sealed.data / "master_key").write_text("00" * 32 + "\n")
    proc = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url)
    assert proc.returncode == 1 and "is not the MASTER_KEY that sealed the stored secrets" in proc.stderr
    env_key = troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url, MASTER_KEY="11" * 32)
    assert env_key.returncode == 1 and "MASTER_KEY is set in the environment" in env_key.stderr


def _refused_at_start(data: Path, url: str, extra: dict[str, str] | None = None) -> str:
    proc = run_until_exit(data, {"DATABASE_URL": url, **(extra or {})})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("troupe: cannot start: "), proc.stderr
    return lines[0]


def test_a_server_refuses_a_master_key_that_did_not_seal_the_secrets(sealed: Sealed) -> None:
    assert troupe(sealed.data, "keys", "rotate-master", database_url=sealed.url).returncode == 0
    recorded = fingerprint(_key(sealed.data / "master_key"))
    line = _refused_at_start(sealed.data, sealed.url, {"MASTER_KEY": "22" * 32})
    assert f"MASTER_KEY is not the key that sealed the stored secrets (fingerprint {recorded})" in line
    assert "22" * 8 not in line


def test_a_server_refuses_a_schema_newer_than_its_code(tmp_path: Path, database_url: str) -> None:
    init_database(database_url)
    try:
        SchemaVersion.insert(version=LATEST + 1, name="from_the_future", applied_at=0).execute()
    finally:
        db.close()
    line = _refused_at_start(tmp_path / "data", database_url)
    assert f"the database is at schema version {LATEST + 1}, this Troupe knows up to {LATEST}" in line
