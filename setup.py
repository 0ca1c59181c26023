"""The compiled core: Cython extensions built with the system's C/C++ compiler.

Everything else about the package is in pyproject.toml; this file only lists the
extensions, so that ``pip install -e .`` (``make``) builds them in place. The
chain's stages must give the Python reference's floats bit for bit, so no
contraction of a multiply and an add into one rounding (``-ffp-contract=off``).

Five plain Python modules that run per market event in replay (its driver, the
recording reader and feed, the scoreboard and the allocator) are compiled as they
are (``PLAIN``): their source stays the Python a reader and the type checker see.
Cython would otherwise take their type hints as C types (a ``tuple[float, ...]``
becomes a C tuple converted at every call, which made replay slower), so they are
compiled with ``annotation_typing`` off.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

FLAGS = ["-O2", "-ffp-contract=off"]
STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")

EXTENSIONS = [
    Extension("quotepipe.shm.buckets", ["src/quotepipe/shm/buckets.pyx"], extra_compile_args=FLAGS),
    Extension("quotepipe.domain.valuation", ["src/quotepipe/domain/valuation.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.marketdata.book", ["src/quotepipe/marketdata/book.pyx"],
              language="c++", extra_compile_args=FLAGS),
    Extension("quotepipe.marketdata.levels", ["src/quotepipe/marketdata/levels.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.marketdata.lines", ["src/quotepipe/marketdata/lines.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.workers.decisions", ["src/quotepipe/workers/decisions.pyx"],
              extra_compile_args=FLAGS),
    *(Extension(f"quotepipe.workers.stages.{s}", [f"src/quotepipe/workers/stages/{s}.pyx"],
                extra_compile_args=FLAGS) for s in STAGES),
    Extension("quotepipe.workers.trigger", ["src/quotepipe/workers/trigger.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.workers.timing", ["src/quotepipe/workers/timing.pyx"], extra_compile_args=FLAGS),
    Extension("quotepipe.workers.pipeline", ["src/quotepipe/workers/pipeline.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.workers.engine", ["src/quotepipe/workers/engine.pyx"], extra_compile_args=FLAGS),
    Extension("quotepipe.venue.queue_models", ["src/quotepipe/venue/queue_models.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.venue.paper", ["src/quotepipe/venue/paper.pyx"], extra_compile_args=FLAGS),
    Extension("quotepipe.replay_loop", ["src/quotepipe/replay_loop.pyx"], extra_compile_args=FLAGS),
]
PLAIN = ("quotepipe.replay", "quotepipe.marketdata.recording", "quotepipe.marketdata.feed",
         "quotepipe.scoreboard.metrics", "quotepipe.scoreboard.allocator")

setup(ext_modules=[
    *cythonize(EXTENSIONS, include_path=["src"], compiler_directives={"language_level": "3"}),
    *cythonize([Extension(m, ["src/" + m.replace(".", "/") + ".py"], extra_compile_args=FLAGS)
                for m in PLAIN], compiler_directives={"language_level": "3", "annotation_typing": False}),
])
