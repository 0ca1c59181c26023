"""The compiled core: Cython extensions built with the system's C/C++ compiler.

Everything else about the package is in pyproject.toml; this file only lists the
extensions, so that ``pip install -e .`` (``make``) builds them in place.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSIONS = [
    Extension("quotepipe.marketdata.book", ["src/quotepipe/marketdata/book.pyx"],
              language="c++", extra_compile_args=["-O2"]),
]

setup(ext_modules=cythonize(EXTENSIONS, compiler_directives={"language_level": "3"}))
