"""``quotepipe report DIR [DIR...]``: plots of one or more run directories, as PNG and one HTML page.

Each figure has one column per run (shared axes, so two runs compare at a
glance, for example allocator on and off): equity and per-instrument PnL,
position value per instrument, allocator weights, markout curves (mean markout
at 1, 5 and 30 s per instrument) and the per-stage latency histogram. The HTML
page embeds the PNGs (base64) and a table of each run's figures, so it is one
self-contained file to mail or archive. matplotlib draws off screen (Agg).
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from quotepipe.domain.stages import TIMED  # noqa: E402
from quotepipe.results.rundir import FIGURES, MARKOUT_S  # noqa: E402

REQUIRED = ("summary.json", "fills.csv", "timeseries.csv", "equity.csv", "latency.json")
DPI = 100


class NotARunDirectory(ValueError):
    """A path given to ``report`` that ``replay --out`` did not write."""


class Run:
    """One run directory, read."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise NotARunDirectory(f"{path}: not a folder (expected a `quotepipe replay --out` directory)")
        missing = [f for f in REQUIRED if not (path / f).is_file()]
        if missing:
            raise NotARunDirectory(f"{path}: not a run directory, missing {', '.join(missing)} "
                                   "(write one with `quotepipe replay --out DIR`)")
        self.path = path
        self.name = path.name
        try:
            self.summary: dict[str, Any] = json.loads((path / "summary.json").read_text())
            self.latency: dict[str, Any] = json.loads((path / "latency.json").read_text())
        except json.JSONDecodeError as exc:
            raise NotARunDirectory(f"{path}: a file is not JSON: {exc}") from None
        self.equity = _rows(path / "equity.csv")
        self.series = _rows(path / "timeseries.csv")
        self.fills = _rows(path / "fills.csv")
        self.t0 = float(self.equity[0]["t_ns"]) if self.equity else 0.0

    def minutes(self, rows: list[dict[str, str]]) -> list[float]:
        return [(float(r["t_ns"]) - self.t0) / 60e9 for r in rows]

    def by_instrument(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in self.series:
            out[r["instrument"]].append(r)
        return dict(out)


def colors(runs: list[Run]) -> dict[str, str]:
    """One colour per instrument in every plot and run (config order)."""
    ids: list[str] = []
    for r in runs:
        ids += [i for i in r.summary["instruments"] if i not in ids]
    return {iid: f"C{k % 10}" for k, iid in enumerate(ids)}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _grid(runs: list[Run], title: str, height: float = 3.6) -> tuple[Any, list[Axes]]:
    fig, axes = plt.subplots(1, len(runs), figsize=(6.4 * len(runs), height), sharey=True, squeeze=False,
                             dpi=DPI)
    fig.suptitle(title)
    for ax, run in zip(axes[0], runs, strict=True):
        ax.set_title(run.name, fontsize=10)
        ax.grid(alpha=0.3)
    return fig, list(axes[0])


def plot_equity(runs: list[Run]) -> Any:
    c = colors(runs)
    fig, axes = _grid(runs, "Equity (PnL net of fees, USD) and PnL per instrument")
    for ax, run in zip(axes, runs, strict=True):
        ax.plot(run.minutes(run.equity), [float(r["equity_usd"]) for r in run.equity], color="black",
                lw=2, label="total")
        for iid, rows in run.by_instrument().items():
            ax.plot(run.minutes(rows), [float(r["pnl_usd"]) for r in rows], lw=1, label=iid, color=c[iid])
        ax.set_xlabel("minutes of event time")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].set_ylabel("USD")
    axes[-1].legend(fontsize=7, loc="best")
    return fig


def _steps(runs: list[Run], title: str, column: str, ylabel: str, level: float) -> Any:
    """One time-series column per instrument as steps (it holds between samples), a line at ``level``."""
    c = colors(runs)
    fig, axes = _grid(runs, title)
    for ax, run in zip(axes, runs, strict=True):
        for iid, rows in run.by_instrument().items():
            ax.step(run.minutes(rows), [float(r[column]) for r in rows], where="post", lw=1, label=iid,
                    color=c[iid])
        ax.axhline(level, color="grey", lw=0.5)
        ax.set_xlabel("minutes of event time")
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize=7, loc="best")
    return fig


def plot_positions(runs: list[Run]) -> Any:
    return _steps(runs, "Position value per instrument (USD at the mid)", "inventory_usd", "USD", 0.0)


def plot_weights(runs: list[Run]) -> Any:
    return _steps(runs, "Allocator weight per instrument", "weight", "weight (mean 1)", 1.0)


def plot_markouts(runs: list[Run]) -> Any:
    c = colors(runs)
    fig, axes = _grid(runs, "Markout curves: mean markout after a fill, bps")
    for ax, run in zip(axes, runs, strict=True):
        per: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in run.fills:
            per[r["instrument"]].append(r)
        for iid, rows in sorted(per.items()):
            ys = []
            for h in MARKOUT_S:
                got = [float(r[f"markout_{h}s_bps"]) for r in rows if r[f"markout_{h}s_bps"]]
                ys.append(sum(got) / len(got) if got else float("nan"))
            ax.plot(MARKOUT_S, ys, marker="o", lw=1, label=f"{iid} ({len(rows)} fills)", color=c[iid])
        ax.set_xscale("log")
        ax.set_xticks(MARKOUT_S, [f"{h} s" for h in MARKOUT_S])
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("horizon after the fill")
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel("bps (positive: the market moved our way)")
    return fig


def plot_latency(runs: list[Run]) -> Any:
    fig, axes = _grid(runs, "Per-stage latency (replay, this host): share of ticks", height=4.0)
    for ax, run in zip(axes, runs, strict=True):
        for name in TIMED:
            h = run.latency.get(name)
            if not h or not h["counts"]:
                continue
            total = sum(h["counts"])
            mids = [(lo + hi) / 2 / 1000.0 for lo, hi in zip(h["lower_ns"], h["upper_ns"], strict=True)]
            ax.plot(mids, [c / total for c in h["counts"]], lw=1, label=name,
                    drawstyle="steps-mid")
        ax.set_xscale("log")
        ax.set_xlabel("µs")
    axes[0].set_ylabel("share of ticks per bucket")
    axes[-1].legend(fontsize=7, loc="best")
    return fig


PLOTS = (("equity", plot_equity), ("positions", plot_positions), ("weights", plot_weights),
         ("markouts", plot_markouts), ("latency", plot_latency))


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, dict):
        return ", ".join(f"{k} {n:,}" for k, n in v.items()) or "none"
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def figures_table(runs: list[Run]) -> str:
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    rows = []
    for key in FIGURES:
        cells = "".join(f"<td>{_cell(r.summary.get('figures', {}).get(key))}</td>" for r in runs)
        rows.append(f"<tr><th>{key}</th>{cells}</tr>")
    basis = html.escape(runs[0].summary.get("figures", {}).get("sharpe_basis", ""))
    return (f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"
            f"<p class=note>Sharpe and Sortino: {basis}.</p>")


def instruments_table(run: Run) -> str:
    cols = ("fills", "pnl_usd", "net_bps", "weight", "position")
    head = "".join(f"<th>{c}</th>" for c in cols)
    extra = ("fill_rate", "markout_1s_bps", "markout_5s_bps", "markout_30s_bps", "quoting_share")
    head += "".join(f"<th>{c}</th>" for c in extra)
    rows = []
    for iid, row in run.summary["instruments"].items():
        f = row.get("figures", {})
        cells = "".join(f"<td>{_cell(row.get(c))}</td>" for c in cols)
        cells += "".join(f"<td>{_cell(f.get(c))}</td>" for c in extra)
        rows.append(f"<tr><th>{html.escape(iid)}</th>{cells}</tr>")
    return f"<h3>{html.escape(run.name)}</h3><table><tr><th>instrument</th>{head}</tr>{''.join(rows)}</table>"


def _inputs(run: Run) -> str:
    return ", ".join(Path(p).name for p in run.summary.get("run", {}).get("inputs", [])) or "synthetic"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}img{max-width:100%;display:block;margin:1em 0}.note{color:#555;font-size:90%}"""


def make_report(paths: list[Path], out: Path) -> list[Path]:
    """Draw every plot of ``paths``' runs into ``out`` (PNG each, and report.html); the files."""
    runs = [Run(p) for p in paths]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    images = []
    for name, plot in PLOTS:
        fig = plot(runs)
        fig.tight_layout()
        png = out / f"{name}.png"
        fig.savefig(png)
        plt.close(fig)
        written.append(png)
        images.append((name, base64.b64encode(png.read_bytes()).decode()))
    title = " vs ".join(r.name for r in runs)
    body = [f"<h1>quotepipe report: {html.escape(title)}</h1>",
            "<p class=note>" + "<br>".join(
                f"{html.escape(r.name)}: {html.escape(str(r.path))}, inputs {html.escape(_inputs(r))}"
                for r in runs) + "</p>",
            "<h2>Figures</h2>", figures_table(runs), "<h2>Instruments</h2>",
            *(instruments_table(r) for r in runs), "<h2>Plots</h2>",
            *(f'<img alt="{n}" src="data:image/png;base64,{b}">' for n, b in images)]
    page = out / "report.html"
    page.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
                    f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    written.append(page)
    return written
