# cython: language_level=3

cdef class Levels:
    """A depth diff's levels, (price, qty) pairs in one C array (``levels.pyx``)."""
    cdef double *pairs      # price, qty, price, qty, ...
    cdef Py_ssize_t n       # pairs held
    cdef Py_ssize_t cap     # pairs the array has room for

    cdef int add(self, double px, double qty) except -1
