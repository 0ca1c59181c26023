# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A depth diff's levels as (price, qty) pairs in one C array, not a list of tuples.

The compiled line decoder (``lines.pyx``) writes a diff's levels here, and the
book (``book.pyx``) reads them back as C doubles: a list of tuples cost three
objects a level, made, read and freed, some 140 levels a diff. To the rest of
quotepipe it is a read-only sequence of ``(price, qty)`` tuples, equal to the
list msgspec decodes from the same text (``messages.Level``).
"""

from collections.abc import Sequence

from cpython.mem cimport PyMem_Free, PyMem_Realloc


cdef class Levels:

    cdef int add(self, double px, double qty) except -1:
        cdef Py_ssize_t cap
        cdef double *grown
        if self.n == self.cap:
            cap = 2 * self.cap if self.cap else 16
            grown = <double *>PyMem_Realloc(self.pairs, 2 * cap * sizeof(double))
            if grown == NULL:
                raise MemoryError()
            self.pairs, self.cap = grown, cap
        self.pairs[2 * self.n] = px
        self.pairs[2 * self.n + 1] = qty
        self.n += 1
        return 0

    def __dealloc__(self) -> None:
        PyMem_Free(self.pairs)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(self.n))]
        cdef Py_ssize_t k = index
        if k < 0:
            k += self.n
        if not 0 <= k < self.n:
            raise IndexError("level index out of range")
        return (self.pairs[2 * k], self.pairs[2 * k + 1])

    def __iter__(self):
        cdef Py_ssize_t k
        for k in range(self.n):
            yield (self.pairs[2 * k], self.pairs[2 * k + 1])

    def __eq__(self, other) -> bool:
        if not isinstance(other, (Levels, list, tuple)):
            return NotImplemented
        return len(other) == self.n and all(a == b for a, b in zip(self, other))

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        raise TypeError("unhashable type: 'Levels'")

    def __repr__(self) -> str:
        return f"Levels({list(self)!r})"

    def __reduce__(self):
        return (of_pairs, (list(self),))


def of_pairs(pairs) -> Levels:
    """``Levels`` holding ``pairs`` (``(price, qty)`` each)."""
    cdef Levels out = Levels()
    for px, qty in pairs:
        out.add(px, qty)
    return out


Sequence.register(Levels)
