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
"""

from __future__ import annotations


class RiskAverseQueue:
    name = "risk_averse"

    def advance(self, ahead: float, prev_level: float, level: float, traded: float) -> float:
        return ahead if ahead <= level else level


class ProbQueue:
    name = "prob"

    def __init__(self, exponent: float = 3.0) -> None:
        self.n = exponent

    def advance(self, ahead: float, prev_level: float, level: float, traded: float) -> float:
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


def queue_model(name: str, exponent: float = 3.0) -> RiskAverseQueue | ProbQueue:
    if name == "risk_averse":
        return RiskAverseQueue()
    if name == "prob":
        return ProbQueue(exponent)
    raise ValueError(f"venue.queue_model: expected risk_averse or prob, got {name!r}")
