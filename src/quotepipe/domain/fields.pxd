# cython: language_level=3
"""Reading a frozen ``msgspec`` struct's fields from compiled code, at their slot offsets.

The chain's inputs from outside it (``Snapshot``, ``TickContext``, ``RestingOrder``,
``InstrumentSpec``, the config sections) stay ``msgspec`` structs: Python code (the
legacy loop, the engine, the venue) reads them at interpreter speed, where a
compiled extension type's fields cost it 3-4x more. Compiled code reading them by
name would pay a generic attribute lookup (about 25 ns a field); a struct keeps
each field in a slot at a fixed offset, which its member descriptor gives, as
msgspec itself finds them. ``offset`` resolves a field once, at import; the
readers then cost a load and a type test. ``f64`` and ``i64`` convert as Python
arithmetic would (an ``int`` in a float field, a ``bool`` in an int one).
"""

from cpython.object cimport PyObject, PyTypeObject
from cpython.unicode cimport PyUnicode_CheckExact, PyUnicode_GET_LENGTH


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member
    PyTypeObject PyMemberDescr_Type
    bint PyFloat_CheckExact(PyObject *o)
    double PyFloat_AS_DOUBLE(PyObject *o)
    double PyFloat_AsDouble(object o) except? -1.0
    long long PyLong_AsLongLong(object o) except? -1


cdef inline Py_ssize_t offset(object cls, str name) except -1:
    """The slot offset of field ``name`` of the struct class ``cls``."""
    d = getattr(cls, name)
    if type(d) is not <type>&PyMemberDescr_Type:
        raise TypeError(f"{cls.__name__}.{name} is not a struct field")
    return (<PyMemberDescrObject *><PyObject *>d).d_member.offset


cdef inline PyObject *slot(object o, Py_ssize_t off) except NULL:
    cdef PyObject *v = (<PyObject **>((<char *><PyObject *>o) + off))[0]
    if v == NULL:
        raise AttributeError(f"a field of {type(o).__name__} is unset")
    return v


cdef inline double f64(object o, Py_ssize_t off) except? -1.0:
    cdef PyObject *v = slot(o, off)
    if PyFloat_CheckExact(v):
        return PyFloat_AS_DOUBLE(v)
    return PyFloat_AsDouble(<object>v)


cdef inline double f64_of(object v) except? -1.0:
    """``v`` as a C double, as ``float(v)`` converts a number (an exact float read at once).
    ``f64`` keeps its own copy of these lines: through one shared helper GCC compiled guards
    1.9% and queue_aware 1.7% more instructions a call (the gate)."""
    if PyFloat_CheckExact(<PyObject *>v):
        return PyFloat_AS_DOUBLE(<PyObject *>v)
    return PyFloat_AsDouble(v)


cdef extern from *:
    """
    /* An exact int of at most three 30-bit digits, read from its digits (CPython 3.11's layout);
       1 when it did, 0 for anything else (PyLong_AsLongLong decides those). */
    static CYTHON_INLINE int qp_small_int(PyObject *v, long long *out) {
    #if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30 && !defined(Py_LIMITED_API)
        if (PyLong_CheckExact(v)) {
            const digit *d = ((PyLongObject *)v)->ob_digit;
            Py_ssize_t size = Py_SIZE(v);
            unsigned long long m;
            switch (size < 0 ? -size : size) {
                case 0: *out = 0; return 1;
                case 1: m = d[0]; break;
                case 2: m = (unsigned long long)d[0] | ((unsigned long long)d[1] << 30); break;
                case 3:
                    if (d[2] >= 8) return 0;  /* 2**63 or more */
                    m = (unsigned long long)d[0] | ((unsigned long long)d[1] << 30)
                        | ((unsigned long long)d[2] << 60);
                    break;
                default: return 0;
            }
            *out = size < 0 ? -(long long)m : (long long)m;
            return 1;
        }
    #endif
        return 0;
    }
    """
    bint qp_small_int(PyObject *v, long long *out) noexcept


cdef inline long long int64_of(object v) except? -1:
    """``v`` as a C ``long long``, as ``PyLong_AsLongLong`` converts it. A nanosecond time
    has three of CPython's 30-bit digits, which both ``PyLong_AsLongLong`` and Cython's own
    argument conversion hand to the generic path (``_PyLong_AsByteArray``, about 170
    instructions a time, 1,500 a tick); read from its digits, a dozen."""
    cdef long long x
    if qp_small_int(<PyObject *>v, &x):
        return x
    return PyLong_AsLongLong(v)


cdef inline long long i64(object o, Py_ssize_t off) except? -1:
    return int64_of(<object>slot(o, off))


cdef inline object obj(object o, Py_ssize_t off):
    return <object>slot(o, off)


cdef inline bint is_choice(object o, Py_ssize_t off, str choice) except -1:
    """Whether the string field at ``off`` holds ``choice`` (a config ``Literal``). msgspec
    gives such a field the interned literal itself, so identity decides; otherwise only
    strings of the same length compare their text. A compiled ``==`` of two strings is an
    ordering compare: its ``memcmp`` runs on any lengths, and costs more when a string lies
    near the end of a page, so spread's fair-price test ("mid" against "microprice") moved
    by 6 instructions a call with the process's argv."""
    cdef PyObject *v = slot(o, off)
    if v == <PyObject *>choice:
        return True
    if PyUnicode_CheckExact(<object>v) and PyUnicode_GET_LENGTH(<object>v) != PyUnicode_GET_LENGTH(choice):
        return False
    return <object>v == choice


cdef inline bint flag(object o, Py_ssize_t off) except -1:
    cdef PyObject *v = slot(o, off)
    if v == <PyObject *>True:
        return True
    if v == <PyObject *>False:
        return False
    return bool(<object>v)


cdef inline int check(object o, object cls) except -1:
    """The readers trust the offsets of ``cls``: refuse anything that is not one (the exact
    type tested first: ``isinstance`` is a call, about 20 instructions, 17 times a tick)."""
    if type(o) is cls:
        return 0
    if not isinstance(o, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(o).__name__}")
    return 0
