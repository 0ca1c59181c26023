# cython: language_level=3
"""The queue models' C interface, for the paper venue (paper.pyx) to call them without boxing."""

cdef class QueueModel:
    cpdef double advance(self, double ahead, double prev_level, double level, double traded) except? -1.0


cdef class RiskAverseQueue(QueueModel):
    pass


cdef class ProbQueue(QueueModel):
    cdef readonly double n
