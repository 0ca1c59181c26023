# cython: language_level=3, cpow=True
"""Queue-position models: how the quantity ahead of our resting order advances.

Each model has one job: given our estimate of the quantity ahead, the level's
quantity when we last looked and now, and the quantity traded at the level in
between, return the new estimate. Trades at our level always advance the queue
(the venue does that before asking the model); the models differ on depth that
disappears from the level without trading (cancellations):

- ``RiskAverseQueue``: cancellations are assumed to come from behind us; the
  queue ahead only shrinks when the level itself becomes smaller than it.
- ``ProbQueue``: a cancellation comes from behind us with probability
  ``f(back) / (f(back) + f(front))``, ``f(x) = x ** n`` (power law, n = 3 by
  default), as in the queue-position models used for L2 backtests.

Compiled (Cython) with the venue: it asks the model on every book update that
moved a resting order's level, from C (``queue_models.pxd``). The arithmetic is
IEEE double as Python's, ``**`` is C's ``pow`` as Python's float power is.
"""


cdef class QueueModel:
    """What the venue calls: the new estimate of the quantity ahead of our order."""

    name = ""

    cpdef double advance(self, double ahead, double prev_level, double level, double traded) except? -1.0:
        raise NotImplementedError


cdef class RiskAverseQueue(QueueModel):
    name = "risk_averse"

    cpdef double advance(self, double ahead, double prev_level, double level, double traded) except? -1.0:
        return ahead if ahead <= level else level


cdef class ProbQueue(QueueModel):
    name = "prob"

    def __init__(self, double exponent=3.0):
        self.n = exponent

    cpdef double advance(self, double ahead, double prev_level, double level, double traded) except? -1.0:
        cdef double cancelled, back, fb, p_back, from_back
        cancelled = prev_level - level - traded
        if cancelled > 0.0 and ahead > 0.0:
            back = prev_level - traded - ahead
            if back < 0.0:
                back = 0.0
            fb = back ** self.n
            p_back = fb / (fb + ahead ** self.n)
            from_back = p_back * cancelled
            if from_back > back:  # more than the queue behind holds: the rest was ahead of us
                from_back = back
            ahead -= cancelled - from_back
        if ahead > level:
            ahead = level
        return ahead if ahead > 0.0 else 0.0


def queue_model(str name, double exponent=3.0) -> QueueModel:
    if name == "risk_averse":
        return RiskAverseQueue()
    if name == "prob":
        return ProbQueue(exponent)
    raise ValueError(f"venue.queue_model: expected risk_averse or prob, got {name!r}")
