# cython: language_level=3, boundscheck=False, wraparound=False
"""The histograms' log-linear buckets over integer nanoseconds, in one place, in C.

Values below 64 ns have a bucket each; above, every power of two is split into 32
buckets, so a bucket is at most 1/32 of its value wide. ``bucket_of`` is one value's
bucket; ``record_into`` counts a batch into a histogram's words in one C loop, where
a numpy pass over a few thousand values took about 70 µs (a dozen array operations
and a ``bincount`` over all 1,152 buckets): the stage timer flushes its 4,096 ticks
and their sampled stages with it. Compiled writers use ``buckets.pxd`` directly.
"""

SUB_BITS = C_SUB_BITS
SUB = 1 << C_SUB_BITS
LINEAR = C_LINEAR
MAX_EXP = C_MAX_EXP
N_BUCKETS = C_N_BUCKETS
HIST_WORDS = C_HIST_WORDS


def bucket_of(long long v) -> int:
    """The bucket of ``v`` ns."""
    return bucket(v)


def record_into(unsigned long long[::1] words, const long long[:] values) -> None:
    """Every value of ``values`` (ns) into ``words``, one histogram's count, sum and buckets."""
    if words.shape[0] != C_HIST_WORDS:
        raise ValueError(f"a histogram has {C_HIST_WORDS} words, got {words.shape[0]}")
    cdef Py_ssize_t i
    for i in range(values.shape[0]):
        count(&words[0], values[i])
