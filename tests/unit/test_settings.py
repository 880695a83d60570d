"""Settings are validated once, with one clear message naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal

import pytest

from settings import DEFAULT_SYMBOLS, ConfigError, Settings, load_settings
from tests.support.helpers import ROOT, RecordingEnv


def test_defaults_are_the_embedded_offline_setup() -> None:
    s = load_settings({})
    assert (s.host, s.port, s.exchange, s.price_feed) == ("127.0.0.1", 8080, "simulator", "simulated")
    assert s.redis_url == "" and s.resolved_database_url.startswith("sqlite:///")
    assert s.symbols == DEFAULT_SYMBOLS and dict(s.starting_wallet)["USDT"] == Decimal(10000)


@pytest.mark.parametrize("env,variable", [
    ({"PORT": "80a"}, "PORT"), ({"PORT": "70000"}, "PORT"), ({"EXCHANGE": "kraken"}, "EXCHANGE"),
    ({"SYMBOLS": "BTC-USD"}, "SYMBOLS"), ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"), ({"JWT_SECRET": "short"}, "JWT_SECRET"),
    ({"MASTER_KEY": "xyz"}, "MASTER_KEY"), ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ({"EXECUTOR_SHARDS": "0"}, "EXECUTOR_SHARDS"), ({"STARTING_WALLET": "USDT=lots"}, "STARTING_WALLET"),
    ({"FEE_RATE": "1.5"}, "FEE_RATE"), ({"ROLE": "gateway"}, "ROLE"),
    ({"FEE_MAKER_RATE": "1"}, "FEE_MAKER_RATE"), ({"FEE_TAKER_RATE": "-0.1"}, "FEE_TAKER_RATE"),
    ({"BOOK_REFILL_MS": "0"}, "BOOK_REFILL_MS"),
    ({"EXECUTOR_SHARDS": "2", "EXECUTOR_SHARD_IDS": "2"}, "EXECUTOR_SHARD_IDS"),
    ({"EXECUTOR_SHARD_IDS": "a"}, "EXECUTOR_SHARD_IDS"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "TRUSTED_PROXIES"), ({"WS_MAX_PER_USER": "0"}, "WS_MAX_PER_USER"),
    ({"LOGIN_SLOWDOWN_MAX_MS": "600000"}, "LOGIN_SLOWDOWN_MAX_MS"),
])
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(env)


def test_maker_and_taker_fees_default_to_fee_rate() -> None:
    s = load_settings({"FEE_RATE": "0.002"})
    assert (s.fee_maker_rate, s.fee_taker_rate) == (Decimal("0.002"), Decimal("0.002"))
    s = load_settings({"FEE_RATE": "0.002", "FEE_MAKER_RATE": "0", "FEE_TAKER_RATE": "0.0015"})
    assert (s.fee_rate, s.fee_maker_rate, s.fee_taker_rate) == (Decimal("0.002"), Decimal(0), Decimal("0.0015"))


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default() -> None:
    assert load_settings({}).trusted_proxies == ()
    nets = load_settings({"TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,::1"}).trusted_proxies
    assert [str(n) for n in nets] == ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]


def test_roles_choose_which_shards_run_here() -> None:
    assert load_settings({"EXECUTOR_SHARDS": "4"}).local_shards == (0, 1, 2, 3)
    assert load_settings({"ROLE": "web"}).local_shards == ()
    split = load_settings({"ROLE": "executor", "EXECUTOR_SHARDS": "4", "EXECUTOR_SHARD_IDS": "3,1"})
    assert split.local_shards == (1, 3)


def test_the_server_refuses_to_start_with_one_clear_line() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "run.py")], env={"PATH": "/usr/bin:/bin", "PORT": "nope"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "troupe: configuration error: PORT must be a whole number between 0 and 65535, " \
                                  "got 'nope'"


def _readme_configuration_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    env = RecordingEnv()
    load_settings(env)
    assert env.asked == _readme_configuration_table()


def test_the_defaults_are_written_once() -> None:
    """An empty environment gives exactly the dataclass's defaults (load_settings reads them from it)."""
    assert load_settings({}) == Settings()


def test_session_lifetimes_and_the_access_token_ttl_with_its_deprecated_name() -> None:
    s = load_settings({})
    assert (s.access_ttl_seconds, s.session_max_days, s.session_idle_hours) == (900, 30, 24)
    assert load_settings({"JWT_TTL_SECONDS": "120"}).access_ttl_seconds == 120  # the older name still works
    assert load_settings({"JWT_TTL_SECONDS": "120", "ACCESS_TTL_SECONDS": "300"}).access_ttl_seconds == 300
    tight = load_settings({"SESSION_MAX_DAYS": "0.5", "SESSION_IDLE_HOURS": "0.25"})
    assert (tight.session_max_days, tight.session_idle_hours) == (0.5, 0.25)
    for env, variable in (({"ACCESS_TTL_SECONDS": "30"}, "ACCESS_TTL_SECONDS"),
                          ({"JWT_TTL_SECONDS": "x"}, "JWT_TTL_SECONDS"),
                          ({"SESSION_MAX_DAYS": "0.0001"}, "SESSION_MAX_DAYS"),
                          ({"SESSION_MAX_DAYS": "366"}, "SESSION_MAX_DAYS"),
                          ({"SESSION_IDLE_HOURS": "-1"}, "SESSION_IDLE_HOURS"),
                          ({"SESSION_IDLE_HOURS": "1e3"}, "SESSION_IDLE_HOURS")):
        with pytest.raises(ConfigError, match=variable):
            load_settings(env)
