"""The second compiling process of a cold kernel load: `python -m pel.backend.compile_helper` reads its job as
JSON on stdin, makes the listed chunk modules from the cache (each checked against the text digest its parent
wrote), compiles each for the kernel signature, which writes numba's cache entries through the store, sealed."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def run(job: dict) -> int:
    """Compile the chunks `job` names; returns how many were compiled and sealed."""
    from pel.backend import cache
    from pel.backend.store import Store, exec_module

    store = Store(Path(job["directory"]))
    if not store.writable:
        return 0  # the parent compiles everything itself
    cache.attach_runtime(store)
    sig = cache.signature()
    done = 0

    def verified(name: str, digest: str) -> str | None:
        text = store.read_module(name)
        if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            return None  # changed since the parent wrote it: the parent compiles it itself
        return text

    for name, digest in job["imports"]:
        text = verified(name, digest)
        if text is None:
            return done
        cache.register_module(name, exec_module(name, text, store.module_path(name), store))
    for name, kind, digest in job["chunks"]:
        text = verified(name, digest)
        if text is None:
            continue
        fn = getattr(exec_module(name, text, store.module_path(name), store), kind)
        try:
            fn.compile(sig)
        except Exception:  # noqa: BLE001 - the parent compiles it again and reports the failure in context
            continue
        done += 1  # numba wrote its entries through the store, sealed
    return done


def main() -> None:
    try:
        job = json.loads(sys.stdin.read())
    except ValueError:
        sys.exit(2)
    run(job)


if __name__ == "__main__":
    main()
