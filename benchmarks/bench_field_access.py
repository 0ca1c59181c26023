"""What a field read and a value cost compiled code and Python: why the chain's values are what they are.

Ten float fields read, and a ten-field value built, per call: from Python and
from a compiled function (``benchmarks/field_access.pyx``, built here with
pyximport), on a frozen ``msgspec`` struct and on an extension type with
read-only C fields. The reference in the same run is an empty call; the figures
are per call, the empty call taken off.

    python benchmarks/bench_field_access.py [--json PATH] [--repeat N]

What it showed when the chain was compiled (issue 19): compiled code reading a
struct by name is slower than the interpreter (a generic attribute lookup
against 3.11's specialised slot read), by slot offset it is a few ns; Python
reading an extension type's fields is 3-4x slower than reading a struct's. So the
boundary values stay structs, read by offset, and the stages' own values are
extension types.
"""

from __future__ import annotations

import timeit
from pathlib import Path

import msgspec
import pyximport

from _common import emit, parser, show, spread


class Ten(msgspec.Struct, frozen=True):
    a: float
    b: float
    c: float
    d: float
    e: float
    f: float
    g: float
    h: float
    i: float
    j: float


def py_read(o: object) -> float:
    return o.a + o.b + o.c + o.d + o.e + o.f + o.g + o.h + o.i + o.j  # type: ignore[attr-defined]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    pyximport.install(language_level=3, build_dir=str(Path.home() / ".pyxbld"))
    import field_access as fa  # noqa: PLC0415 - built on import

    fa.resolve(Ten)
    s, x = Ten(*[1.0] * 10), fa.Ten(*[1.0] * 10)
    cases = {
        "python reads a struct": lambda: py_read(s),
        "python reads an extension type": lambda: py_read(x),
        "compiled reads a struct by name": lambda: fa.by_name(s),
        "compiled reads a struct by slot offset": lambda: fa.by_offset(s),
        "compiled reads an extension type's C fields": lambda: fa.c_fields(x),
        "python builds a struct": lambda: Ten(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        "compiled builds a struct": lambda: fa.build_struct(Ten, 1.0),
        "compiled builds an extension type": lambda: fa.build_ext_type(1.0),
    }
    n = 200_000
    empty = [min(timeit.repeat(lambda: None, number=n, repeat=3)) / n * 1e9 for _ in range(args.repeat)]
    figures, lines = {}, [f"per call, ns, the empty call ({show(spread(empty), 1, ' ns')}) taken off; "
                          f"median over {args.repeat} repeats"]
    for name, fn in cases.items():
        runs = [min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e9 - e for e in empty]
        figures[name] = spread(runs)
        lines.append(f"{name:<45} {show(figures[name], 1, ' ns')}")
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
