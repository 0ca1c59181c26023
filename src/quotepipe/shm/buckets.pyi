"""Type stub of the compiled histogram buckets (buckets.pyx)."""

import numpy as np
import numpy.typing as npt

SUB_BITS: int
SUB: int
LINEAR: int
MAX_EXP: int
N_BUCKETS: int
HIST_WORDS: int

def bucket_of(v: int) -> int: ...
def record_into(words: npt.NDArray[np.uint64], values: npt.ArrayLike) -> None: ...
