"""The garbage collector's settings for a long-running server process.

Why: at Python's defaults a worker under load spent 2-3 % of its CPU in young (gen-0) collections, each
scanning the live objects of every request in flight, and every few thousand requests stopped for about
150 ms in a full collection over the ~240,000 objects that imports and start-up made and that live as long
as the process (a database read's p99 150-210 ms instead of 40-60 ms; docs/observability.md). So,
once start-up is done, those objects are frozen out of every later collection (`gc.freeze`, as CPython's
documentation suggests for servers), and young collections run every `gen0_threshold` allocations instead
of 700. Reference counting still frees almost everything at once; what waits longer is only cyclic
garbage, a few thousand objects at most.
"""

from __future__ import annotations

import gc

_frozen = False


def settle_after_startup(gen0_threshold: int) -> None:
    """Freeze what start-up built (once per process) and set how often young collections run."""
    global _frozen
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    if not _frozen:
        gc.collect()  # start-up's own garbage goes first, so none of it is kept for good
        gc.freeze()
        _frozen = True
