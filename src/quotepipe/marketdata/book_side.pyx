# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""One side of an L2 book, compiled: integer tick keys in an ordered C++ map.

A level's key is its price in ticks (``llround(price / tick)``), negated on the
bid side, so ``begin()`` is the best level on both sides and a diff's level costs
one tree operation in C, wherever it sits in the book. Each key keeps the price
and size as received (floats), so what the book publishes is bit-for-bit what the
venue sent. A price off the tick grid (a config whose ``tick_size`` does not fit
the data) is still booked, at its nearest tick, and counted in ``off_tick``.

``apply`` returns whether the best ``LEVELS`` changed: the market-data process
writes the depth block of a snapshot only then.
"""

from cython.operator cimport dereference as deref
from cython.operator cimport preincrement as inc
from libc.math cimport fabs, llround
from libcpp.map cimport map as cmap
from libcpp.utility cimport pair

from quotepipe.domain.snapshot import LEVELS as _LEVELS

cdef int LEVELS = _LEVELS
cdef double KEY_MAX = 9.0e18   # |ticks| beyond this does not fit the int64 key
cdef double OFF_TICK = 0.01    # a price this far from its tick (in ticks) is off the grid


cdef struct Level:
    double px
    double qty


ctypedef cmap[long long, Level] LevelMap
ctypedef pair[long long, Level] Entry


cdef class BookSide:
    """Levels of one side, best first. ``bid``: the bid side; ``tick``: the price step."""

    cdef LevelMap levels
    cdef readonly bint bid
    cdef readonly double tick
    cdef double per_tick
    cdef long long sign
    cdef readonly long long off_tick  #: levels received off the tick grid

    def __cinit__(self, bint bid, double tick):
        if not tick > 0.0:
            raise ValueError(f"tick must be positive, got {tick}")
        self.bid = bid
        self.tick = tick
        self.per_tick = 1.0 / tick
        self.sign = -1 if bid else 1
        self.off_tick = 0

    cdef inline long long key(self, double px) except? -1:
        cdef double x = px * self.per_tick
        if not fabs(x) < KEY_MAX:
            raise OverflowError(f"price {px} does not fit the book at tick {self.tick}")
        cdef long long k = llround(x)
        if fabs(x - <double>k) > OFF_TICK:
            self.off_tick += 1
        return self.sign * k

    cdef inline long long kth_key(self):
        """The key of the ``LEVELS``-th best level; the largest key when there are fewer."""
        cdef LevelMap.iterator it = self.levels.begin()
        cdef int n = 0
        while it != self.levels.end():
            n += 1
            if n == LEVELS:
                return deref(it).first
            inc(it)
        return 0x7FFFFFFFFFFFFFFF

    def clear(self) -> None:
        self.levels.clear()

    def seed(self, list levels) -> None:
        """Replace every level (a snapshot); sizes that are not positive are left out."""
        self.levels.clear()
        cdef Level lv
        cdef tuple t
        for t in levels:
            lv.px = t[0]
            lv.qty = t[1]
            if lv.qty > 0.0:
                self.levels[self.key(lv.px)] = lv

    def apply(self, list levels) -> bool:
        """Set each ``(price, size)``; a size that is not positive removes the level.
        True when the best ``LEVELS`` changed.

        While nothing in the top has changed, the top's last key is the one found
        before the diff, so one comparison per level tells whether it is inside."""
        cdef long long kth = self.kth_key()
        cdef bint changed = False
        cdef Level lv
        cdef long long k
        cdef tuple t
        cdef LevelMap.iterator it
        for t in levels:
            lv.px = t[0]
            lv.qty = t[1]
            k = self.key(lv.px)
            it = self.levels.find(k)
            if lv.qty > 0.0:
                if it == self.levels.end():
                    self.levels.insert(Entry(k, lv))
                elif deref(it).second.qty != lv.qty or deref(it).second.px != lv.px:
                    deref(it).second = lv
                else:
                    continue
            elif it != self.levels.end():
                self.levels.erase(it)
            else:
                continue
            if k <= kth:
                changed = True
        return changed

    def __len__(self) -> int:
        return self.levels.size()

    def best(self):
        """The best price, or None on an empty side."""
        if self.levels.empty():
            return None
        return deref(self.levels.begin()).second.px

    def best_level(self):
        """``(price, size)`` of the best level, or None on an empty side."""
        if self.levels.empty():
            return None
        cdef LevelMap.iterator it = self.levels.begin()
        return (deref(it).second.px, deref(it).second.qty)

    def best_levels(self, int n) -> list:
        """Up to ``n`` ``(price, size)`` levels, best first."""
        out = []
        cdef LevelMap.iterator it = self.levels.begin()
        while it != self.levels.end() and n > 0:
            out.append((deref(it).second.px, deref(it).second.qty))
            inc(it)
            n -= 1
        return out

    def top(self, int n) -> tuple:
        """``n`` prices then ``n`` sizes, best first, zeros where the side has fewer levels."""
        cdef list px = [0.0] * n
        cdef list qty = [0.0] * n
        cdef LevelMap.iterator it = self.levels.begin()
        cdef int i = 0
        while it != self.levels.end() and i < n:
            px[i] = deref(it).second.px
            qty[i] = deref(it).second.qty
            inc(it)
            i += 1
        return (*px, *qty)

    def qty_at(self, double px) -> float:
        """The size resting at ``px``; 0.0 when there is no level there."""
        cdef LevelMap.iterator it = self.levels.find(self.key(px))
        if it == self.levels.end():
            return 0.0
        return deref(it).second.qty
