# cython: language_level=3
"""The histograms' buckets in C (``buckets.pyx`` says how they are cut), for compiled writers."""

cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil

cdef enum:
    C_SUB_BITS = 5                                # each power of two cut into 2**5 buckets
    C_LINEAR = 2 << C_SUB_BITS                    # values below 64 ns have a bucket each
    C_MAX_EXP = 34                                # the top bucket starts at 63 * 2**34 ns
    C_N_BUCKETS = C_LINEAR + C_MAX_EXP * (1 << C_SUB_BITS)
    C_HIST_WORDS = 2 + C_N_BUCKETS                # count, sum_ns, then the buckets


cdef inline Py_ssize_t bucket(long long v) noexcept nogil:
    """The bucket of ``v`` ns (0 for none or less)."""
    if v < C_LINEAR:
        return v if v > 0 else 0
    cdef int e = (64 - __builtin_clzll(<unsigned long long>v)) - (C_SUB_BITS + 1)  # bit length - 6
    cdef long long b = (<long long>e << C_SUB_BITS) + (v >> e)
    return b if b < C_N_BUCKETS else C_N_BUCKETS - 1


cdef inline void count(unsigned long long *words, long long v) noexcept nogil:
    """One value into a histogram's words (count, sum of the positive values, buckets)."""
    words[0] += 1
    if v > 0:
        words[1] += <unsigned long long>v
    words[2 + bucket(v)] += 1
