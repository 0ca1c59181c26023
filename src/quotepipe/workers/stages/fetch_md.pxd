# cython: language_level=3
"""FetchMD's C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport MarketView

cpdef MarketView fetch_md(object snap, object now_ns)
