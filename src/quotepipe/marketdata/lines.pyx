# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The lines of a recording's known streams decoded in compiled code, without msgspec.

Decoding was half of replay's instructions, most of it msgspec's generic work on a
depth diff's levels (a string, a lax number parse and a constraint check for each of
some 140 numbers a diff). Binance writes one canonical form; this decoder reads that
form only: no whitespace, keys and strings of plain ASCII without escapes, integers
and decimals of digits (a decimal quoted or bare, no sign or exponent), values within
the bounds ``messages`` puts on each field; a key given twice is taken at its last
value, as msgspec takes it. A line in any other form, or with a field missing, is
not decoded here: it goes back to the reader, which decodes it with msgspec as
before and refuses what msgspec refuses. So both give the same events for the lines
this one takes, and every malformed line is still refused, counted and named by
msgspec's own message.

A decimal is the correctly rounded double of its digits, as msgspec and ``float()``
give it: exactly ``digits / 10**n`` in one IEEE division when both are exact
doubles (Clinger's fast path), otherwise CPython's own parser
(``PyOS_string_to_double``: correctly rounded, and blind to the C locale, which
``strtod`` is not: under a locale with a decimal comma it would stop at the point).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from libc.string cimport memchr, memcmp, memcpy

from quotepipe.marketdata.levels cimport Levels

from quotepipe.marketdata.messages import (
    EPOCH_MS_MAX,
    EPOCH_MS_MIN,
    ID_MAX,
    PRICE_MAX,
    QTY_MAX,
    BookTickerEvent,
    DepthEvent,
    TradeEvent,
)


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf, object kwnames)
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception)


cdef enum Kind:
    BOOK_TICKER = 1
    DEPTH = 2
    TRADE = 3

KINDS = {"book_ticker": BOOK_TICKER, "depth": DEPTH, "trade": TRADE}

# a receive time in ns since the epoch, and the µs and ms ones converted to it (recording.receive_ns)
cdef long long NS_MIN = 10**17, US_MIN = 10**14, US_MAX = 4 * 10**15, MS_MIN = 10**11, MS_MAX = 4 * 10**12
cdef long long C_ID_MAX = ID_MAX
cdef long long I64_MAX = (1 << 63) - 1
cdef long long C_MS_MIN = EPOCH_MS_MIN, C_MS_MAX = EPOCH_MS_MAX
cdef double C_PRICE_MAX = PRICE_MAX, C_QTY_MAX = QTY_MAX
cdef enum:
    DIGITS_MAX = 40      # a decimal longer than this is left to msgspec
    SCAN_MAX = 8         # streams found by a scan of their names; more, by the dict
cdef unsigned long long EXACT_MAX = 9007199254740992   # 2**53: every integer up to it is an exact double
cdef double[23] POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                      1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

cdef object _BOOK_TICKER = BookTickerEvent, _DEPTH = DepthEvent, _TRADE = TradeEvent
cdef tuple BT_NAMES = ("recv_ns", "inst", "update_id", "bid_px", "bid_qty", "ask_px", "ask_qty", "exch_ms")
cdef tuple DEPTH_NAMES = ("recv_ns", "inst", "first_id", "last_id", "prev_id", "bids", "asks", "exch_ms")
cdef tuple TRADE_NAMES = ("recv_ns", "inst", "price", "qty", "buyer_maker", "trade_ms", "trade_id")


cdef struct Cur:
    const char *p
    const char *end
    bint ok


cdef inline bint fail(Cur *c) noexcept:
    c.ok = False
    return False


cdef inline bint expect(Cur *c, char ch) noexcept:
    if c.p < c.end and c.p[0] == ch:
        c.p += 1
        return True
    return fail(c)


cdef inline bint is_digit(char ch) noexcept:
    return c'0' <= ch <= c'9'


# The scanners below read through a local pointer and store it back once: through ``c`` the
# compiler keeps the cursor in memory, reloading and storing it at every character.

cdef inline const char *plain_string(Cur *c, Py_ssize_t *n) noexcept:
    """A string's text after its opening quote (consumed with the closing one): printable
    ASCII without a backslash, else NULL."""
    cdef const char *p = c.p
    cdef const char *end = c.end
    cdef char ch
    while p < end:
        ch = p[0]
        if ch == c'"':
            n[0] = p - c.p
            p, c.p = c.p, p + 1
            return p
        if ch == c'\\' or ch < 0x20 or ch > 0x7e:  # char is signed: bytes >= 0x80 are < 0
            break
        p += 1
    fail(c)
    return NULL


cdef inline long long integer(Cur *c, long long lo, long long hi) noexcept:
    """A JSON integer of digits, optionally negative, between ``lo`` and ``hi`` (19 digits at
    most: an unsigned 64-bit value cannot overflow)."""
    cdef const char *p = c.p
    cdef const char *end = c.end
    cdef bint neg = p < end and p[0] == c'-'
    cdef unsigned long long v = 0
    cdef const char *start = p + neg
    p = start
    while p < end and is_digit(p[0]):
        v = v * 10 + <unsigned long long>(p[0] - c'0')
        p += 1
    c.p = p
    if p == start or p - start > 19 or (p - start > 1 and start[0] == c'0') \
            or v > <unsigned long long>I64_MAX:
        fail(c)  # none, more than int64 holds (msgspec decides), or a leading zero
        return 0
    if p < end and (p[0] == c'.' or p[0] == c'e' or p[0] == c'E'):
        fail(c)  # a float in an int field
        return 0
    cdef long long x = -<long long>v if neg else <long long>v
    if x < lo or x > hi:
        fail(c)
    return x


cdef inline double decimal(Cur *c, double lo, bint lo_open, double hi) noexcept:
    """``digits[.digits]``, quoted or bare, within (or from, where not ``lo_open``) ``lo``
    up to below ``hi``."""
    cdef const char *p = c.p
    cdef const char *end = c.end
    cdef bint quoted = p < end and p[0] == c'"'
    cdef const char *start = p + quoted
    cdef const char *stop
    cdef unsigned long long m = 0
    cdef int digits = 0, frac = 0
    cdef double x
    cdef char buf[DIGITS_MAX + 1]
    p = start
    while p < end and is_digit(p[0]):
        m = m * 10 + <unsigned long long>(p[0] - c'0')  # wraps past 19 digits: then unused
        p += 1
    digits = p - start
    if digits == 0 or (digits > 1 and start[0] == c'0'):
        return fail(c)
    if p < end and p[0] == c'.':
        p += 1
        stop = p
        while p < end and is_digit(p[0]):
            m = m * 10 + <unsigned long long>(p[0] - c'0')
            p += 1
        frac = p - stop
        if frac == 0:
            return fail(c)
        digits += frac
    stop = p
    if stop - start > DIGITS_MAX:
        return fail(c)
    if quoted:
        if not (p < end and p[0] == c'"'):
            return fail(c)
        p += 1
    elif p < end and (p[0] == c'e' or p[0] == c'E'):
        return fail(c)
    c.p = p
    if digits <= 19 and m <= EXACT_MAX:  # and so frac <= 19: 10**frac is exact too
        x = <double>m / POW10[frac]
    else:
        memcpy(buf, start, stop - start)
        buf[stop - start] = 0
        x = PyOS_string_to_double(buf, NULL, NULL)  # digits and a point: it cannot fail
    if not (x > lo if lo_open else x >= lo) or not x < hi:
        fail(c)
    return x


cdef inline bint boolean(Cur *c) noexcept:
    cdef Py_ssize_t left = c.end - c.p
    if left >= 4 and c.p[0] == c't' and c.p[1] == c'r' and c.p[2] == c'u' and c.p[3] == c'e':
        c.p += 4
        return True
    if left >= 5 and c.p[0] == c'f' and c.p[1] == c'a' and c.p[2] == c'l' and c.p[3] == c's' \
            and c.p[4] == c'e':
        c.p += 5
        return False
    return fail(c)


cdef inline void skip_value(Cur *c) noexcept:
    """A value of a key no event holds: a plain string, an integer or ``true``/``false``/
    ``null``; anything else (a float, an object, an array) is left to msgspec."""
    cdef Py_ssize_t n
    cdef Py_ssize_t left = c.end - c.p
    if left <= 0:
        fail(c)
    elif c.p[0] == c'"':
        c.p += 1
        plain_string(c, &n)
    elif c.p[0] == c'-' or is_digit(c.p[0]):
        integer(c, -I64_MAX, I64_MAX)
    elif left >= 4 and (c.p[0] == c't' or c.p[0] == c'f'):
        boolean(c)
    elif left >= 4 and c.p[0] == c'n' and c.p[1] == c'u' and c.p[2] == c'l' and c.p[3] == c'l':
        c.p += 4
    else:
        fail(c)


cdef inline Levels levels(Cur *c):
    """``[["price","qty"],...]``: the pairs msgspec gives as ``list[Level]``, in a ``Levels``."""
    cdef Levels out = Levels.__new__(Levels)
    cdef double px, qty
    if not expect(c, c'['):
        return out
    if c.p < c.end and c.p[0] == c']':
        c.p += 1
        return out
    while c.ok:
        if not expect(c, c'['):
            break
        px = decimal(c, 0.0, True, C_PRICE_MAX)
        if not (c.ok and expect(c, c',')):
            break
        qty = decimal(c, 0.0, False, C_QTY_MAX)
        if not (c.ok and expect(c, c']')):
            break
        out.add(px, qty)
        if c.p < c.end and c.p[0] == c',':
            c.p += 1
        else:
            expect(c, c']')
            break
    return out


cdef class Stream:
    """A stream recognised in one file: its kind, its instrument, the msgspec decoder of its
    lines (for those the compiled decoder leaves), and its counts, kept here by either."""

    cdef public object line_decoder
    cdef readonly str kind, inst
    cdef int code   # the kind's ``Kind``
    cdef public long long count, last_ns

    def __init__(self, str kind, str inst, long long ns, line_decoder) -> None:
        self.kind, self.code, self.inst = kind, KINDS[kind], inst
        self.last_ns, self.line_decoder, self.count = ns, line_decoder, 0


cdef class KnownStreams:
    """The streams recognised in one file, by name, and the decoder of their lines.

    ``add`` a stream once it is recognised; ``decode_rows`` then decodes the lines of a
    block that belong to one of them, in Binance's canonical form, until one needs the
    reader (another form, another stream, a receive time outside the reader's window).
    """

    cdef readonly dict streams  #: name (bytes) -> its ``Stream``
    cdef list _names            # the names, in the order added, and their streams: a file has a
    cdef list _streams          # few, found by a compare of bytes where a dict would hash the name

    def __init__(self) -> None:
        self.streams, self._names, self._streams = {}, [], []

    def add(self, bytes name, Stream stream) -> None:
        self.streams[name] = stream
        self._names.append(name)
        self._streams.append(stream)

    cdef Stream _find(self, const char *name, Py_ssize_t n):
        cdef Py_ssize_t j
        cdef bytes known
        if len(self._names) > SCAN_MAX:
            return self.streams.get(PyBytes_FromStringAndSize(name, n))
        for j in range(len(self._names)):
            known = <bytes>self._names[j]
            if PyBytes_GET_SIZE(known) == n and memcmp(PyBytes_AS_STRING(known), name, n) == 0:
                return self._streams[j]
        return None

    def decode_rows(self, bytes block, Py_ssize_t pos, Py_ssize_t stop, long long lo, long long hi,
                    object index, Py_ssize_t lineno, list out, bint whole=False) -> tuple:
        """The lines of ``block[:stop]`` (joined by ``\\n``; ``whole``: one line, newlines and
        all) from byte ``pos``, each appended to ``out`` as ``(receive ns, index, line number,
        event)`` and counted on its stream while it is a known stream's canonical line
        received within ``[lo, hi]``. Returns ``(pos, lineno, row)`` after the first line it
        does not take: ``row`` is that line, for msgspec, or ``(event, stream)`` when only its
        time is outside; None at the end (``lineno``: the number of the last line read)."""
        if pos < 0 or not 0 <= stop <= PyBytes_GET_SIZE(block):  # pos past stop: nothing left
            raise IndexError(f"lines {pos}:{stop} outside a block of {PyBytes_GET_SIZE(block)} bytes")
        cdef const char *base = PyBytes_AS_STRING(block)
        cdef const char *end = base + stop
        cdef const char *p = base + pos
        cdef const char *nl
        cdef Stream st
        cdef long long ns
        while p <= end:
            nl = end if whole else <const char *>memchr(p, c'\n', end - p)
            if nl == NULL:
                nl = end
            lineno += 1
            pos = nl + 1 - base
            row = self._line(p, nl, &ns) if self._names else None
            if row is None:
                return pos, lineno, PyBytes_FromStringAndSize(p, nl - p)
            ev, st = <tuple>row
            if not lo <= ns <= hi:
                return pos, lineno, row
            st.count += 1
            st.last_ns = ns
            out.append((ns, index, lineno, ev))
            p = nl + 1
        return pos, lineno, None

    cdef object _line(self, const char *p, const char *end, long long *ns_out):
        cdef Cur c
        cdef Py_ssize_t n
        cdef const char *name
        c.p, c.end, c.ok = p, end, True
        cdef long long ns = integer(&c, 0, I64_MAX)
        if not (c.ok and expect(&c, c' ')):
            return None
        if ns < NS_MIN:  # µs or ms, as recording.receive_ns converts them (where no overflow)
            if US_MIN <= ns < US_MAX:
                ns *= 1000
            elif MS_MIN <= ns < MS_MAX:
                ns *= 1_000_000
            else:
                return None
        if end - c.p < 11 or c.p[0] != c'{' or c.p[1] != c'"' or c.p[2] != c's' or c.p[3] != c't' \
                or c.p[4] != c'r' or c.p[5] != c'e' or c.p[6] != c'a' or c.p[7] != c'm' \
                or c.p[8] != c'"' or c.p[9] != c':' or c.p[10] != c'"':
            return None
        c.p += 11
        name = plain_string(&c, &n)
        if not c.ok:
            return None
        cdef Stream stream = self._find(name, n)
        if stream is None:
            return None
        if end - c.p < 8 or c.p[0] != c',' or c.p[1] != c'"' or c.p[2] != c'd' or c.p[3] != c'a' \
                or c.p[4] != c't' or c.p[5] != c'a' or c.p[6] != c'"' or c.p[7] != c':':
            return None
        c.p += 8
        ev = event(&c, stream.code, ns, stream.inst)
        if ev is None or not expect(&c, c'}'):
            return None
        while c.p < c.end and (c.p[0] == c' ' or c.p[0] == c'\t' or c.p[0] == c'\r'):
            c.p += 1
        if c.p != c.end:
            return None
        ns_out[0] = ns
        return (ev, stream)


cdef inline int key_of(Cur *c) noexcept:
    """The next key of an object (consumed with its colon) as up to two characters in an
    int, ``-1`` for a longer key, 0 when the form is not canonical or the key is one of the
    event's own unrenamed fields (``recv_ns``, ``inst``: msgspec would decode it)."""
    cdef Py_ssize_t n
    cdef const char *k
    if not expect(c, c'"'):
        return 0
    k = plain_string(c, &n)
    if not (c.ok and expect(c, c':')):
        return 0
    if n == 1:
        return <unsigned char>k[0]
    if n == 2:
        return (<unsigned char>k[0] << 8) | <unsigned char>k[1]
    if (n == 4 and memcmp(k, b"inst", 4) == 0) or (n == 7 and memcmp(k, b"recv_ns", 7) == 0):
        return fail(c)
    return -1


cdef inline bint next_key(Cur *c) noexcept:
    """After a value: True at a comma (another key follows), False at the closing brace."""
    if c.p < c.end and c.p[0] == c',':
        c.p += 1
        return True
    expect(c, c'}')
    return False


cdef enum:
    K_b = 0x62
    K_B = 0x42
    K_a = 0x61
    K_A = 0x41
    K_u = 0x75
    K_U = 0x55
    K_E = 0x45
    K_T = 0x54
    K_t = 0x74
    K_p = 0x70
    K_q = 0x71
    K_m = 0x6d
    K_pu = 0x7075


cdef struct Fields:
    unsigned seen   # a bit for each key read (``REQUIRED`` says which an event needs)
    long long n[4]  # the integers, in the order of the kind's keys below
    double x[4]     # the decimals
    bint flag


cdef unsigned[4] REQUIRED = [0, 31, 15, 15]  # by kind: u b B a A; U u b a; p q m T


cdef int read_field(Cur *c, int kind, int k, Fields *f, list lists) except -1:
    """The value of key ``k`` of a payload of ``kind`` into ``f`` (a depth's levels into
    ``lists``); a key the event does not hold is skipped."""
    if kind == BOOK_TICKER:
        if k == K_u:
            f.seen |= 1
            f.n[0] = integer(c, 0, C_ID_MAX)
        elif k == K_b:
            f.seen |= 2
            f.x[0] = decimal(c, 0.0, True, C_PRICE_MAX)
        elif k == K_B:
            f.seen |= 4
            f.x[1] = decimal(c, 0.0, True, C_QTY_MAX)
        elif k == K_a:
            f.seen |= 8
            f.x[2] = decimal(c, 0.0, True, C_PRICE_MAX)
        elif k == K_A:
            f.seen |= 16
            f.x[3] = decimal(c, 0.0, True, C_QTY_MAX)
        elif k == K_E:
            f.n[1] = integer(c, 0, C_MS_MAX - 1)
        else:
            skip_value(c)
    elif kind == DEPTH:
        if k == K_U:
            f.seen |= 1
            f.n[0] = integer(c, 0, C_ID_MAX)
        elif k == K_u:
            f.seen |= 2
            f.n[1] = integer(c, 0, C_ID_MAX)
        elif k == K_b:
            f.seen |= 4
            lists[0] = levels(c)
        elif k == K_a:
            f.seen |= 8
            lists[1] = levels(c)
        elif k == K_pu:
            f.n[2] = integer(c, -1, C_ID_MAX)
        elif k == K_E:
            f.n[3] = integer(c, 0, C_MS_MAX - 1)
        else:
            skip_value(c)
    else:
        if k == K_p:
            f.seen |= 1
            f.x[0] = decimal(c, 0.0, True, C_PRICE_MAX)
        elif k == K_q:
            f.seen |= 2
            f.x[1] = decimal(c, 0.0, True, C_QTY_MAX)
        elif k == K_m:
            f.seen |= 4
            f.flag = boolean(c)
        elif k == K_T:
            f.seen |= 8
            f.n[0] = integer(c, C_MS_MIN, C_MS_MAX - 1)
        elif k == K_t:
            f.n[1] = integer(c, -1, C_ID_MAX)
        else:
            skip_value(c)
    return 0


cdef object event(Cur *c, int kind, long long ns, object inst):
    """The payload object at ``c`` as the event of ``kind``; None when it is not in the
    canonical form or lacks a field the event needs."""
    cdef Fields f
    cdef list lists = [None, None] if kind == DEPTH else None
    cdef int k
    f.seen, f.flag = 0, False
    f.n[0], f.n[1], f.n[2], f.n[3] = 0, (-1 if kind == TRADE else 0), -1, 0  # the defaults: t, pu -1
    f.x[0], f.x[1], f.x[2], f.x[3] = 0.0, 0.0, 0.0, 0.0
    if not expect(c, c'{') or (c.p < c.end and c.p[0] == c'}'):
        return None
    while c.ok:
        k = key_of(c)
        if c.ok:
            read_field(c, kind, k, &f, lists)
        if not (c.ok and next_key(c)):
            break
    if not c.ok or f.seen & REQUIRED[kind] != REQUIRED[kind]:
        return None
    cdef object a0 = ns, a2, a3, a4, a5, a6, a7
    cdef PyObject *args[8]
    args[0], args[1] = <PyObject *>a0, <PyObject *>inst
    if kind == BOOK_TICKER:
        a2, a3, a4, a5, a6, a7 = f.n[0], f.x[0], f.x[1], f.x[2], f.x[3], f.n[1]
        args[2], args[3], args[4] = <PyObject *>a2, <PyObject *>a3, <PyObject *>a4
        args[5], args[6], args[7] = <PyObject *>a5, <PyObject *>a6, <PyObject *>a7
        return PyObject_Vectorcall(_BOOK_TICKER, args, 0, BT_NAMES)
    if kind == DEPTH:
        a2, a3, a4, a5, a6, a7 = f.n[0], f.n[1], f.n[2], lists[0], lists[1], f.n[3]
        args[2], args[3], args[4] = <PyObject *>a2, <PyObject *>a3, <PyObject *>a4
        args[5], args[6], args[7] = <PyObject *>a5, <PyObject *>a6, <PyObject *>a7
        return PyObject_Vectorcall(_DEPTH, args, 0, DEPTH_NAMES)
    a2, a3, a4, a5, a6 = f.x[0], f.x[1], f.flag, f.n[0], f.n[1]
    args[2], args[3], args[4] = <PyObject *>a2, <PyObject *>a3, <PyObject *>a4
    args[5], args[6] = <PyObject *>a5, <PyObject *>a6
    return PyObject_Vectorcall(_TRADE, args, 0, TRADE_NAMES)
