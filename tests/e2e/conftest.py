"""A real Troupe server process and Debian's chromium driven by Playwright.

Chromium comes from Debian's package (`make test` installs it); Playwright's own browser download is
never used. A missing chromium fails these tests loudly rather than skipping them.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from tests.support.helpers import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 720}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Settings of this module's server; a module overrides this fixture to change them."""
    return {}


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str]) -> Iterator[ServerProcess]:
    """One server per test module, on a fixed port so a test can restart it at the same address."""
    proc = ServerProcess(tmp_path_factory.mktemp("e2e"), env={"PORT": str(free_port()), **server_env})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def server(server_process: ServerProcess) -> str:
    return server_process.url


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser` (make test does it)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def new_context(browser: Browser, server: str) -> AsyncIterator[NewContext]:
    """Fresh browser profiles (separate cookies and storage), each failing the test on a page error."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def make(outage: bool = False, **options: object) -> BrowserContext:
        """`outage`: the test takes the server down, so failed connections are expected."""
        ctx = await browser.new_context(base_url=server, viewport=options.pop("viewport", DESKTOP), **options)
        ctx.on("page", lambda page: _watch(page, errors, outage))
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        await ctx.close()
    assert not errors, f"the page reported errors: {errors}"


def _watch(page: Page, errors: list[str], outage: bool) -> None:
    def console(msg: ConsoleMessage) -> None:
        # A 4xx the test provokes on purpose is shown on the page; Chromium logs it too.
        expected = "responded with a status of 4" in msg.text or (outage and (
            "ERR_CONNECTION_REFUSED" in msg.text or "WebSocket connection" in msg.text))
        if msg.type == "error" and not expected:
            errors.append(f"{page.url}: console {msg.text}")

    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", console)


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
