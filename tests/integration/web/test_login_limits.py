"""Logins reveal no accounts, nobody can lock an owner out, and only trusted proxies name the client."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import bcrypt
import pytest

from tests.support.helpers import PASSWORD, new_email, register, session_from
from web.login_limits import failure_delay_s
from web.plumbing import forwarded_client

WRONG = "not the password at all"


@pytest.mark.parametrize("rounds", [4, 6])
async def test_unknown_and_registered_emails_cost_the_same_bcrypt_work(make_client: Any, rounds: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client(bcrypt_rounds=rounds)
    email = new_email()
    await register(client, email)
    costs: list[int] = []
    check = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))  # $2b$<cost>$<salt+hash>
        return check(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    registered = await client.post("/auth/login", json={"email": email, "password": WRONG})
    unknown = await client.post("/auth/login", json={"email": new_email(), "password": WRONG})
    assert registered.status == unknown.status == 401
    assert await registered.json() == await unknown.json()
    assert costs == [rounds, rounds]  # one check each, at the configured cost


async def test_failures_from_other_addresses_never_lock_the_owner_out(make_client: Any) -> None:
    client = await make_client(auth_rate_per_min=20)
    email = new_email()
    await register(client, email)

    async def attack(address: str, attempts: int) -> list[int]:
        async with session_from(client, address) as session:
            async def attempt() -> int:
                async with session.post("/auth/login", json={"email": email, "password": WRONG}) as resp:
                    return resp.status
            return list(await asyncio.gather(*(attempt() for _ in range(attempts))))

    rounds = await asyncio.gather(attack("127.0.0.2", 23), attack("127.0.0.3", 22), attack("127.0.0.4", 22))
    statuses = [status for attacker in rounds for status in attacker]
    assert len(statuses) == 67 and set(statuses) == {401, 429}  # the attackers are throttled ...
    async with session_from(client, "127.0.0.5") as owner:  # ... and the owner's own address is not
        typo = await owner.post("/auth/login", json={"email": email, "password": WRONG})
        assert typo.status == 401
        resp = await owner.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
        assert resp.status == 200, await resp.text()


async def test_an_addresses_guesses_for_one_email_are_capped_but_its_correct_logins_are_not(
        make_client: Any) -> None:
    client = await make_client(login_failures_per_min=3)
    email = new_email()
    await register(client, email)
    for _ in range(5):  # correct passwords never spend the failures budget
        assert (await client.post("/auth/login", json={"email": email, "password": PASSWORD})).status == 200
    statuses = [(await client.post("/auth/login", json={"email": email, "password": WRONG})).status
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    resp = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1  # this address is the one guessing
    other = await client.post("/auth/login", json={"email": new_email(), "password": WRONG})
    assert other.status == 401  # ... for that e-mail only


async def test_an_emails_failures_are_slowed_down_but_its_correct_password_is_not(make_client: Any) -> None:
    client = await make_client(login_slowdown_after=2, login_slowdown_max_ms=4000)
    email = new_email()
    await register(client, email)
    loop = asyncio.get_running_loop()

    async def fail_from(address: str) -> float:
        async with session_from(client, address) as session:
            started = loop.time()
            async with session.post("/auth/login", json={"email": email, "password": WRONG}) as resp:
                assert resp.status == 401
            return loop.time() - started

    await fail_from("127.0.0.2")
    await fail_from("127.0.0.3")
    assert await fail_from("127.0.0.2") >= 0.25  # the third failure of this e-mail, from any address
    assert await fail_from("127.0.0.3") >= 0.5
    held = asyncio.create_task(fail_from("127.0.0.4"))  # answered after at least 1 s
    async with session_from(client, "127.0.0.5") as owner:
        resp = await owner.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200 and not held.done()  # the correct password was answered at once
    assert await held >= 1.0


def test_the_slowdown_doubles_up_to_its_cap() -> None:
    delays = [failure_delay_s(n, after=5, max_ms=4000) for n in range(1, 13)]
    assert delays == [0, 0, 0, 0, 0, 0.25, 0.5, 1, 2, 4, 4, 4]


async def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_client: Any) -> None:
    direct = await make_client(auth_rate_per_min=2)
    statuses = [(await direct.post("/auth/login", json={"email": new_email(), "password": WRONG},
                                   headers={"X-Forwarded-For": f"203.0.113.{i}"})).status for i in range(3)]
    assert statuses == [401, 401, 429]  # inventing addresses buys no budget


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(make_client: Any) -> None:
    proxied = await make_client(auth_rate_per_min=2, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))

    async def login(forwarded_for: str) -> int:
        resp = await proxied.post("/auth/login", json={"email": new_email(), "password": WRONG},
                                  headers={"X-Forwarded-For": forwarded_for})
        return resp.status

    assert [await login("198.51.100.7"), await login("198.51.100.7")] == [401, 401]
    assert await login("1.2.3.4, 198.51.100.7") == 429  # what the client prepends is not believed
    assert await login("198.51.100.8") == 401  # another client behind the proxy has its own budget
    async with session_from(proxied, "127.0.0.2") as untrusted:  # not the proxy: its header is ignored
        for expected in (401, 401, 429):
            resp = await untrusted.post("/auth/login", json={"email": new_email(), "password": WRONG},
                                        headers={"X-Forwarded-For": "198.51.100.9"})
            assert resp.status == expected


@pytest.mark.parametrize("peer,header,client", [
    ("10.0.0.1", ["203.0.113.5"], "203.0.113.5"),
    ("10.0.0.1", ["6.6.6.6, 203.0.113.5, 10.0.0.2"], "203.0.113.5"),  # through two proxies of ours
    ("10.0.0.1", ["6.6.6.6", "203.0.113.5"], "203.0.113.5"),  # the header repeated
    ("10.0.0.1", ["junk, 10.0.0.2"], "10.0.0.2"),  # a malformed hop stops at our last proxy
    ("10.0.0.1", [], "10.0.0.1"),
    ("192.0.2.1", ["203.0.113.5"], "192.0.2.1"),  # an untrusted peer
    ("::ffff:10.0.0.1", ["2001:db8::1"], "2001:db8::1"),
    ("", ["203.0.113.5"], "unknown"),  # no peer address (a unix socket)
])
def test_the_client_address_is_the_rightmost_hop_we_do_not_trust(peer: str, header: list[str], client: str) -> None:
    assert forwarded_client(peer, header, (ipaddress.ip_network("10.0.0.0/8"),)) == client
