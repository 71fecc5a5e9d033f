"""A private asyncio event loop on a daemon thread, for the ``ib_async`` client.

Why a thread of its own: our callers are synchronous (Dagster ops, the CLI, the trading loop)
and some already run an event loop; ``ib_async``'s blocking API would run or nest the
caller's loop. On a dedicated loop the client keeps reading its socket (connectivity notices,
live bars) even while the caller is busy, and callers just wait for results.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


class EventLoopThread:
    """Runs coroutines on one background event loop; start() is implicit on first use."""

    def __init__(self, name: str = "ibkr-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop

    def run(self, make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``make()`` on the loop and wait for its result (raises what it raises)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("EventLoopThread.run called from its own loop (would deadlock)")

        async def wrapper() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Schedule a plain callback on the loop (fire and forget)."""
        self.loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        """Stop the loop and join the thread; idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop, self._thread = None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():
            loop.close()
