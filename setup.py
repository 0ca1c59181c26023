"""The compiled core: Cython extensions built with the system's C/C++ compiler.

Everything else about the package is in pyproject.toml; this file only lists the
extensions, so that ``pip install -e .`` (``make``) builds them in place. The
chain's stages must give the Python reference's floats bit for bit, so no
contraction of a multiply and an add into one rounding (``-ffp-contract=off``).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

FLAGS = ["-O2", "-ffp-contract=off"]
STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")

EXTENSIONS = [
    Extension("quotepipe.marketdata.book", ["src/quotepipe/marketdata/book.pyx"],
              language="c++", extra_compile_args=FLAGS),
    Extension("quotepipe.workers.decisions", ["src/quotepipe/workers/decisions.pyx"],
              extra_compile_args=FLAGS),
    *(Extension(f"quotepipe.workers.stages.{s}", [f"src/quotepipe/workers/stages/{s}.pyx"],
                extra_compile_args=FLAGS) for s in STAGES),
    Extension("quotepipe.workers.trigger", ["src/quotepipe/workers/trigger.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.workers.pipeline", ["src/quotepipe/workers/pipeline.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.workers.engine", ["src/quotepipe/workers/engine.pyx"], extra_compile_args=FLAGS),
    Extension("quotepipe.venue.queue_models", ["src/quotepipe/venue/queue_models.pyx"],
              extra_compile_args=FLAGS),
    Extension("quotepipe.venue.paper", ["src/quotepipe/venue/paper.pyx"], extra_compile_args=FLAGS),
]

setup(ext_modules=cythonize(EXTENSIONS, include_path=["src"],
                            compiler_directives={"language_level": "3"}))
