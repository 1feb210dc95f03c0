"""Bounded, cancellable execution of runs: a fixed pool of worker threads, a bounded queue, a deadline.

Cancellation is cooperative: the engine calls `progress(done, total)` between blocks of 4096 paths, and an
exception raised there ends the run (the server runs each request on one thread so that no other blocks are
in flight). A deterministic run is one path and has no blocks; its length is capped by the step limit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Busy(Exception):
    """Every slot and queue place is taken."""


class DeadlineExceeded(Exception):
    """The request's deadline passed (while waiting or running); the run was cancelled."""


class Cancelled(Exception):
    """Raised inside a run (from its progress callback) to stop it."""


class Runner:
    """Runs jobs on `max_concurrent` threads with at most `max_queue` waiting; each job has a deadline."""

    def __init__(self, max_concurrent: int, max_queue: int) -> None:
        self.max_concurrent = max_concurrent
        self.capacity = max_concurrent + max_queue
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="pel-run")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting; decremented only when the job has really finished
        self.cancelled = 0  # runs stopped by their deadline (for tests and logs)

    @property
    def admitted(self) -> int:
        return self._admitted

    async def run(self, job: Callable[[Callable[[int, int], None]], Any], timeout_s: float) -> Any:
        """Run `job(progress)` on a worker thread; raise Busy, DeadlineExceeded, or what the job raised."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy()
            self._admitted += 1
        deadline = time.monotonic() + timeout_s
        stop = threading.Event()

        def progress(done: int, total: int) -> None:
            if stop.is_set() or time.monotonic() > deadline:
                raise Cancelled()

        def work() -> Any:
            progress(0, 0)  # a job that waited past its deadline never starts
            return job(progress)

        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Future] = loop.create_future()

        def deliver(fut: Future) -> None:
            if not waiter.done():
                waiter.set_result(fut)

        def finished(fut: Future) -> None:  # on the worker thread (or here, if cancelled while queued)
            with self._lock:
                self._admitted -= 1
            if fut.cancelled() or isinstance(fut.exception(), Cancelled):
                self.cancelled += 1
            if not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(deliver, fut)
                except RuntimeError:  # the loop closed in between: nobody is waiting for this answer
                    return

        try:
            fut = self._pool.submit(work)
        except RuntimeError:  # the pool is shut down (server stopping)
            with self._lock:
                self._admitted -= 1
            raise Busy() from None
        fut.add_done_callback(finished)
        try:
            done = await asyncio.wait_for(waiter, timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            stop.set()
            fut.cancel()
            raise DeadlineExceeded() from None
        except asyncio.CancelledError:  # the client went away: stop the run too
            stop.set()
            fut.cancel()
            raise
        if done.cancelled() or isinstance(done.exception(), Cancelled):
            raise DeadlineExceeded()
        return done.result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def wait_done(fut: Future, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for a thread's Future (never cancelling it); True if it is done by then."""
    if fut.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def deliver() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def finished(_: Future) -> None:  # on the thread that finished it
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(deliver)
            except RuntimeError:  # the loop closed in between: nobody is waiting
                return

    fut.add_done_callback(finished)
    try:
        await asyncio.wait_for(waiter, timeout=max(0.0, timeout_s))
    except TimeoutError:
        return fut.done()
    return True
