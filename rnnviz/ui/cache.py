"""The server's caches of studies: bounded in bytes, expiring when idle, shared read-only.

st.cache_data bounds a cache by its number of entries, but one Backprop-through-time study (LSTM,
T = 1000, H = 64, with its overlay cells) holds 25 MB of arrays and a small one 50 KB, so no entry
count bounds memory; and it hands every caller its own unpickled copy, so thirty sessions drawing
one large view hold thirty copies. Here instead:
- every entry's size is measured (the bytes of its arrays, plus the small objects around them), and
  the least recently used entries are dropped while the total is over the budget; an entry larger
  than a quarter of the budget is computed but not kept;
- an entry not used for `ttl` seconds is dropped;
- callers share the cached object itself; its arrays are made read-only first, so a page that tried
  to change one in place would fail loudly rather than show its change to every other session;
- a key being computed is computed once: other sessions asking for it wait for that result;
- at most BUILD_SLOTS computations run at once in a process (a thread already computing may nest
  more, as a study built from other cached studies does), so the memory that computations hold
  while they run is bounded too; more would not be faster: the engine's loops hold Python's GIL.
And the process gives freed memory back (return_freed_memory): otherwise glibc keeps large freed
arrays inside its heaps, one heap per thread up to 8 per core, and the server's RSS climbs with
every large view ever computed (40 links: 0.5 GB with it, 2.5 GB before the cache was bounded).
Nothing here imports Streamlit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

MIB = 1 << 20
BUDGET = int(float(os.environ.get("RNNVIZ_CACHE_MB", "256")) * MIB)  # all cached studies of a process, together
TTL = float(os.environ.get("RNNVIZ_CACHE_TTL_S", "1800"))  # seconds an entry may stay unused
BUILD_SLOTS = 2  # computations of uncached entries at once in a process


def return_freed_memory() -> bool:
    """Make glibc's malloc give large freed blocks back to the system at once; False where it cannot.

    Blocks from 128 KiB up (a study's arrays) get their own mapping, returned when freed: glibc
    otherwise raises that threshold to the largest block freed so far, after which such arrays come
    from its heaps, whose free space the process keeps. At most 2 heaps (arenas) a process: each
    script thread of Streamlit would otherwise get its own, holding its own free space.
    (MALLOC_MMAP_THRESHOLD_ and MALLOC_ARENA_MAX in the environment do the same from the start.)
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (macOS, musl): nothing to do
    M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, 128 * 1024)) and bool(mallopt(M_ARENA_MAX, 2))


RETURNS_FREED_MEMORY = return_freed_memory()


_modules_frozen = 0  # len(sys.modules) at the last freeze_modules()
_freeze_lock = threading.Lock()


def freeze_modules() -> bool:
    """Take the objects of every module loaded so far out of the cyclic garbage collector's sight, once
    per new batch of imports; True if it froze them now.

    Streamlit runs a full collection after every script run (runner.postScriptGC), holding the GIL,
    so the run's last messages wait for it: it walks ~90,000 objects, nearly all of them Streamlit's,
    Plotly's and NumPy's classes and functions, which live as long as the process (100-600 ms a
    run on a busy 2-core machine). Frozen (gc.freeze), they are skipped; objects made later, a
    session's garbage, are still collected, and frozen objects are still freed when unreferenced.
    """
    global _modules_frozen
    with _freeze_lock:
        if len(sys.modules) <= _modules_frozen:
            return False
        gc.collect()  # what is garbage now is not frozen with the rest
        gc.freeze()
        _modules_frozen = len(sys.modules)
        return True


ARRAY_HEADER = sys.getsizeof(np.empty(0))  # an array object without its data (numpy's __sizeof__ adds the data)


def size_of(value, seen: set[int] | None = None) -> int:
    """Bytes `value` holds: its arrays' data, and the small objects that hold them, each counted once."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):  # a view counts as if it held its own data: over, never under
        return value.nbytes + ARRAY_HEADER
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sys.getsizeof(value) + sum(size_of(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k, seen) + size_of(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(size_of(v, seen) for v in value)
    return sys.getsizeof(value)


def freeze(value, seen: set[int] | None = None) -> None:
    """Make every array inside `value` read-only (dataclasses, dicts, lists and tuples are walked)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            freeze(getattr(value, f.name), seen)
    elif isinstance(value, dict):
        for v in value.values():
            freeze(v, seen)
    elif isinstance(value, (list, tuple)):
        for v in value:
            freeze(v, seen)


@dataclass
class _Entry:
    value: object
    size: int  # bytes (size_of)
    used: float  # clock() at the last use


@dataclass(frozen=True)
class Stats:
    """What a cache holds and has done, for tests and benchmarks."""

    entries: int
    bytes: int
    hits: int
    misses: int
    dropped: int  # entries dropped for the budget or expired
    too_large: int  # results computed but not kept: larger than max_entry bytes


class _Slots:
    """A semaphore of `n` slots that a thread holding one may enter again without another."""

    def __init__(self, n: int):
        self._sem = threading.BoundedSemaphore(n)
        self._depth = threading.local()

    def __enter__(self):
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self._sem.acquire()
        self._depth.n = depth + 1

    def __exit__(self, *exc):
        self._depth.n -= 1
        if self._depth.n == 0:
            self._sem.release()


_SLOTS = _Slots(BUILD_SLOTS)


class Cache:
    """Least-recently-used results by key, at most `budget` bytes in all, each dropped after `ttl` idle seconds."""

    def __init__(self, budget: int = BUDGET, ttl: float = TTL, max_entry: int | None = None,
                 clock: Callable[[], float] = time.monotonic, slots: _Slots = _SLOTS):
        self.budget, self.ttl, self.clock, self.slots = budget, ttl, clock, slots
        self.max_entry = budget // 4 if max_entry is None else max_entry
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # oldest use first
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self._bytes = self._hits = self._misses = self._dropped = self._too_large = 0

    def get(self, key: Hashable, compute: Callable[[], object]):
        """The cached value of `key`, or compute() (once, however many ask at the same time), kept if it fits."""
        while True:
            with self._lock:
                self._expire()
                entry = self._entries.get(key)
                if entry is not None:
                    entry.used = self.clock()
                    self._entries.move_to_end(key)
                    self._hits += 1
                    return entry.value
                waiting = self._computing.get(key)
                if waiting is None:
                    done = self._computing[key] = threading.Event()
                    self._misses += 1
                    break
            waiting.wait()  # another session computes it: take its result (or compute it, if it failed)
        try:
            with self.slots:
                value = compute()
            freeze(value)
            self._keep(key, value, size_of(value))
            return value
        finally:
            with self._lock:
                del self._computing[key]
            done.set()

    def _keep(self, key: Hashable, value, size: int) -> None:
        with self._lock:
            if size > self.max_entry:
                self._too_large += 1
                return
            if key in self._entries:
                self._bytes -= self._entries.pop(key).size
            self._entries[key] = _Entry(value, size, self.clock())
            self._bytes += size
            while self._bytes > self.budget:
                self._drop(next(iter(self._entries)))

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, e in self._entries.items() if now - e.used > self.ttl]:
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        self._bytes -= self._entries.pop(key).size
        self._dropped += 1

    def holds(self, key: Hashable) -> bool:
        """Is `key` cached now (a get would not compute)?"""
        with self._lock:
            self._expire()
            return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> Stats:
        with self._lock:
            self._expire()
            return Stats(len(self._entries), self._bytes, self._hits, self._misses, self._dropped, self._too_large)


STUDIES = Cache()  # every study and cached helper result of this process, under one budget


def memo(fn: Callable, *, cache: Cache | None = None) -> Callable:
    """fn, its results kept in `cache` (STUDIES) by its name and arguments (which must be hashable)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    def key(args, kwargs) -> tuple:
        return name, args, tuple(sorted(kwargs.items()))

    def cached(*args, **kwargs):
        return (cache or STUDIES).get(key(args, kwargs), lambda: fn(*args, **kwargs))

    cached.holds = lambda *args, **kwargs: (cache or STUDIES).holds(key(args, kwargs))
    cached.__wrapped__ = fn
    cached.__doc__ = fn.__doc__
    return cached
