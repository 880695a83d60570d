"""Start-up without the cyclic garbage collector, then a frozen heap.

Importing the app and recovering a shard allocate millions of objects that live as long as the
process and almost no cyclic garbage; collections meanwhile only re-traverse them (about a quarter
of the import time, more with a large CFD snapshot). `pause_gc` stops collection for the start-up;
`settle_gc`, once the node is ready, moves everything alive to the permanent generation
(`gc.freeze`), so later full collections skip it too, and collection resumes.
"""

from __future__ import annotations

import gc


def pause_gc() -> None:
    gc.disable()


def settle_gc() -> None:
    """No collection first: the little garbage start-up left is frozen with the rest, rather than
    holding the ready node for a full traversal of a large heap."""
    gc.freeze()
    gc.enable()
