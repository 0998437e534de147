"""Run a LocalExchange in a background thread, for synchronous code: tests that start the
`alphapulse` executable as a subprocess, or a bench that drives a client in another process.

    with ExchangeThread("coinbase", rate=2000) as ex:
        subprocess.run(["alphapulse", "collect", "coinbase", "BTC-USD", "--url", ex.url, ...])
        print(ex.stats(wait_closed=1)["connections"][0]["frames_sent"])
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from alphapulse_cli.exchange.server import LocalExchange


class ExchangeThread:
    def __init__(self, venue: str, **kwargs: Any) -> None:
        self._args = (venue, kwargs)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.exchange: LocalExchange | None = None

    def start(self, timeout: float = 10.0) -> ExchangeThread:
        self._thread = threading.Thread(target=self._run, name="local-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the local exchange did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        venue, kwargs = self._args
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalExchange(venue, **kwargs) as ex:
            self.exchange = ex
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)

    def __enter__(self) -> ExchangeThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ex(self) -> LocalExchange:
        if self.exchange is None:
            raise RuntimeError("start() the exchange first")
        return self.exchange

    @property
    def url(self) -> str:
        return self._ex().url

    @property
    def url_v1(self) -> str:
        return self._ex().url_v1

    @property
    def urls(self) -> dict[str, str]:
        return self._ex().urls

    def stats(self, wait_closed: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        """The exchange's stats, after waiting (if asked) until `wait_closed` connections ended."""
        ex = self._ex()
        assert self._loop is not None

        async def grab() -> dict[str, Any]:
            if wait_closed:
                await ex.wait_closed(wait_closed, timeout)
            return ex.stats()

        return asyncio.run_coroutine_threadsafe(grab(), self._loop).result(timeout + 5)
