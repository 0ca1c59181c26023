"""Make the screenshots in this folder: the live screen at 80x24 and 160x50, and the report page.

    .venv/bin/python docs/img/screenshots.py

The live screen is drawn from a real running instance (the embedded default
config, two workers, the synthetic feed) by the same ``daemon.screen.render``
that ``quotepipe run`` and ``status --watch`` use, then rasterised cell by cell
with its colours (DejaVu Sans Mono, which ships with matplotlib). The report
page is the content of ``report.html`` for two synthetic runs (allocator on and
off) in page order: its figures table and its plots (no browser on this host
to photograph the HTML itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console

from quotepipe.daemon.screen import render
from quotepipe.daemon.view import InstanceView
from quotepipe.results.report import Run, make_report
from quotepipe.results.rundir import FIGURES

HERE = Path(__file__).resolve().parent
FONT_DIR = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
FONT = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono.ttf"), 15)
BOLD = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-Bold.ttf"), 15)
CELL_W, CELL_H = 9, 19
BG, FG = (24, 24, 28), (220, 220, 220)


def terminal_png(s: dict, width: int, height: int, logs: list[str], path: Path) -> None:
    console = Console(width=width, height=height, force_terminal=True, color_system="truecolor")
    lines = console.render_lines(render(s, width, height, logs), console.options, pad=True)
    img = Image.new("RGB", (width * CELL_W + 16, height * CELL_H + 16), BG)
    draw = ImageDraw.Draw(img)
    for y, line in enumerate(lines[:height]):
        x = 0
        for seg in line:
            style = seg.style
            color = FG
            if style is not None and style.color is not None:
                color = style.color.get_truecolor()  # type: ignore[assignment]
                if style.dim:
                    color = tuple(int(c * 0.6) for c in color)  # type: ignore[assignment]
            elif style is not None and style.dim:
                color = (130, 130, 130)
            font = BOLD if style is not None and style.bold else FONT
            for ch in seg.text:
                draw.text((8 + x * CELL_W, 8 + y * CELL_H), ch, font=font, fill=color)
                x += 1
    img.save(path)


def live_screens() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.yaml"
        name = f"shots{os.getpid()}"
        cfg.write_text(f"instance: {{name: {name}}}\nworkers: {{count: 2}}\n")
        log = Path(tmp) / "err"
        with open(log, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg),
                                     "--duration", "40"], stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 90
            while "ready: every process beats" not in log.read_text():
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit(f"the instance did not start:\n{log.read_text()}")
                time.sleep(0.5)
            time.sleep(15)
            s = InstanceView(instance=name).collect()
            logs = [line for line in log.read_text().splitlines() if "INFO" in line][-30:]
            terminal_png(s, 80, 24, logs, HERE / "screen-80x24.png")
            terminal_png(s, 160, 50, logs, HERE / "screen-160x50.png")
        finally:
            proc.terminate()
            proc.wait(60)


def report_page() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / "allocator", Path(tmp) / "no-allocator"]
        for d, extra in zip(dirs, ([], ["--no-allocator"]), strict=True):
            subprocess.run([sys.executable, "-m", "quotepipe", "replay", "--events", "400000", "--out",
                            str(d), *extra], check=True, stdout=subprocess.DEVNULL)
        out = Path(tmp) / "report"
        make_report(dirs, out)
        runs = [Run(d) for d in dirs]
        plots = [Image.open(out / f"{n}.png").convert("RGB") for n in
                 ("equity", "positions", "weights", "markouts", "latency")]
        width = max(p.width for p in plots)
        rows = [("figure", *(r.name for r in runs))]
        for key in FIGURES[:12]:
            rows.append((key, *(_cell(r.summary["figures"].get(key)) for r in runs)))
        table_h = 60 + 22 * len(rows)
        page = Image.new("RGB", (width, table_h + sum(p.height for p in plots)), "white")
        draw = ImageDraw.Draw(page)
        title = ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 22)
        body = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 14)
        draw.text((20, 14), "quotepipe report: allocator vs no-allocator (synthetic, 400,000 events)",
                  font=title, fill="black")
        for k, row in enumerate(rows):
            y = 56 + 22 * k
            for j, cell in enumerate(row):
                draw.text((20 + j * 260, y), cell, font=BOLD if k == 0 or j == 0 else body, fill="black")
        y = table_h
        for p in plots:
            page.paste(p, (0, y))
            y += p.height
        page.save(HERE / "report-page.png")


def _cell(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}"
    return str(v)


if __name__ == "__main__":
    live_screens()
    report_page()
    print("wrote", ", ".join(p.name for p in sorted(HERE.glob("*.png"))))
