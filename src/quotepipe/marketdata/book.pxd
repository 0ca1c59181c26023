# cython: language_level=3
"""The book set's C interface, for its compiled caller (replay's loop, ``replay_loop.pyx``)."""

cdef class BookSet:
    cdef public list ids, books, last_trade, exch_ns, recv_ns, md_seq
    cdef public dict index
    cdef dict _slot
    cpdef int apply(self, ev) except -2
    cpdef tuple l1(self, int i)
    cpdef tuple l1_record(self, int i, publish_ns, l1=*)
