# cython: language_level=3
"""Ten float fields read and one ten-field value built, the ways compiled code can (bench_field_access.py)."""

from quotepipe.domain.fields cimport f64, offset


cdef class Ten:
    cdef readonly double a, b, c, d, e, f, g, h, i, j

    def __init__(self, double a, double b, double c, double d, double e, double f, double g, double h,
                 double i, double j):
        self.a, self.b, self.c, self.d, self.e = a, b, c, d, e
        self.f, self.g, self.h, self.i, self.j = f, g, h, i, j


cdef Py_ssize_t OFF[10]


def resolve(cls):
    for k, name in enumerate("abcdefghij"):
        OFF[k] = offset(cls, name)


def by_name(o):
    return o.a + o.b + o.c + o.d + o.e + o.f + o.g + o.h + o.i + o.j


def by_offset(o):
    return (f64(o, OFF[0]) + f64(o, OFF[1]) + f64(o, OFF[2]) + f64(o, OFF[3]) + f64(o, OFF[4])
            + f64(o, OFF[5]) + f64(o, OFF[6]) + f64(o, OFF[7]) + f64(o, OFF[8]) + f64(o, OFF[9]))


def c_fields(Ten o):
    return o.a + o.b + o.c + o.d + o.e + o.f + o.g + o.h + o.i + o.j


def build_ext_type(double x):
    cdef Ten o = Ten.__new__(Ten)
    o.a = o.b = o.c = o.d = o.e = o.f = o.g = o.h = o.i = o.j = x
    return o


def build_struct(cls, double x):
    return cls(x, x, x, x, x, x, x, x, x, x)
