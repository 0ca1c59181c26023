"""A test of the shared-memory tests: each known ring or seqlock bug must make them fail.

Each mutation is a one-line (or few-line) bug of the kind that passes review:
it is applied to a temporary copy of the project, the shared-memory tests are
run against that copy, and the run must fail. An unchanged copy must pass. A
mutation the tests let through is a hole in the tests, reported with exit 1.

    python -m tests.ring_mutations            # all of them (about a minute)
    python -m tests.ring_mutations -k write   # those whose name holds "write"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_shm.py", "-k", "ring or torn or weights or seqlock"]

COPY_BATCH = ("        for name in records.dtype.names or ():\n"
              "            self._records[name][idx] = records[name]\n")

#: name -> (file under src/quotepipe, text, replacement)
MUTATIONS: dict[str, tuple[str, str, str]] = {
    "write: complete before the payload": (
        "shm/ring.py",
        "        q[i] = 2 * n - 1\n        self._pack(self._mm, 8 * i + 8, *fields)\n        q[i] = 2 * n\n",
        "        q[i] = 2 * n\n        self._pack(self._mm, 8 * i + 8, *fields)\n"),
    "write: no in-progress mark": (
        "shm/ring.py",
        "        q[i] = 2 * n - 1\n        self._pack(self._mm, 8 * i + 8, *fields)\n",
        "        self._pack(self._mm, 8 * i + 8, *fields)\n"),
    "poll: no re-check after the copy": (
        "shm/ring.py",
        "            rec = self._unpack(self._mm, 8 * i + 8)\n            if q[i] == 2 * n:\n"
        "                self.next = n + 1\n                return rec\n        return self._poll_slow()\n",
        "            rec = self._unpack(self._mm, 8 * i + 8)\n"
        "            self.next = n + 1\n            return rec\n        return self._poll_slow()\n"),
    "poll: a lapped slot read as the record asked for": (
        "shm/ring.py",
        "        if q[i] == 2 * n:\n            rec = self._unpack(self._mm, 8 * i + 8)\n"
        "            if q[i] == 2 * n:\n",
        "        if q[i] >= 2 * n:\n            rec = self._unpack(self._mm, 8 * i + 8)\n"
        "            if q[i] >= 2 * n:\n"),
    "read_batch: no re-check after the copy": (
        "shm/ring.py",
        "        ok = (before == want) & (after == want)\n",
        "        ok = before == want\n"),
    "write_batch: complete before the payload": (
        "shm/ring.py",
        "        self._seqs[idx] = seqnums * np.uint64(2) - np.uint64(1)\n"
        f"{COPY_BATCH}        self._seqs[idx] = seqnums * np.uint64(2)\n",
        f"        self._seqs[idx] = seqnums * np.uint64(2)\n{COPY_BATCH}"),
    "resync: lost records not counted": (
        "shm/ring.py",
        "            self.lost += oldest - self.next\n",
        "            self.lost += 1\n"),
    "seqlock write: no odd mark": (
        "shm/seqlock.py",
        "        seq = q[i] | 1  # odd; also right after a writer died mid-write\n        q[i] = seq\n",
        "        seq = q[i] | 1  # odd; also right after a writer died mid-write\n"),
    "seqlock read: no re-check after the copy": (
        "shm/seqlock.py",
        "            rec = self._unpack(self._mm, off)\n"
        "            if q[i] == s1:\n                return rec\n",
        "            rec = self._unpack(self._mm, off)\n            return rec\n"),
}


def copy_project(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(REPO / "src", dest / "src", ignore=ignore)
    shutil.copytree(REPO / "tests", dest / "tests", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")


def run_tests(root: Path) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
                       cwd=root, env=env, capture_output=True, text=True, timeout=900)
    return r.returncode, time.monotonic() - t0, (r.stdout + r.stderr).strip().splitlines()[-1:][0]


def apply(root: Path, file: str, old: str, new: str) -> None:
    path = root / "src" / "quotepipe" / file
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"mutation no longer applies to {file}: the code changed; "
                         "update tests/ring_mutations.py")
    path.write_text(text.replace(old, new))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", default="", help="only the mutations whose name holds this")
    args = p.parse_args(argv)
    chosen = {k: v for k, v in MUTATIONS.items() if args.k in k}
    survived = []
    with tempfile.TemporaryDirectory(prefix="qp-mutants-") as tmp:
        base = Path(tmp) / "unchanged"
        copy_project(base)
        code, secs, last = run_tests(base)
        print(f"{'unchanged copy':<52} {'passes' if code == 0 else 'FAILS'} ({secs:.0f} s) {last}")
        if code != 0:
            return 1
        for k, (name, (file, old, new)) in enumerate(chosen.items()):
            root = Path(tmp) / f"m{k}"
            copy_project(root)
            apply(root, file, old, new)
            code, secs, last = run_tests(root)
            caught = code != 0
            print(f"{name:<52} {'caught' if caught else 'SURVIVED'} ({secs:.0f} s) {last}")
            if not caught:
                survived.append(name)
    if survived:
        print(f"{len(survived)} mutation(s) the tests let through: {', '.join(survived)}")
        return 1
    print(f"all {len(chosen)} mutations caught")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
