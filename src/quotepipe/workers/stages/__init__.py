"""The six stages of the quote chain, one module each, in the order they run.

Each stage is a pure function of frozen values and its own config section: no
clock, no globals, no I/O. Only ``emit`` has a side effect, the sink it is given.
"""

from quotepipe.workers.stages.emit import emit
from quotepipe.workers.stages.fetch_md import fetch_md
from quotepipe.workers.stages.guards import guards
from quotepipe.workers.stages.inventory import inventory
from quotepipe.workers.stages.queue_aware import queue_aware
from quotepipe.workers.stages.spread import spread

__all__ = ["emit", "fetch_md", "guards", "inventory", "queue_aware", "spread"]
