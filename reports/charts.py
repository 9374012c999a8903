"""The report's three PNG charts, drawn with matplotlib's Agg canvas.

Figures are built with the object API (`matplotlib.figure.Figure`), never pyplot:
pyplot keeps global state that is not safe to touch from the scheduler's worker
thread, and Agg needs no display.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display, ever; must precede any backend use

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reports.report import WeeklyReport

SEVERITY_COLORS = {1: "#b71c1c", 2: "#ef6c00", 3: "#fbc02d", 4: "#1e88e5"}
SEVERITY_NAMES = {1: "SEV1 (critical)", 2: "SEV2 (major)", 3: "SEV3 (minor)", 4: "SEV4 (low)"}
DPI = 110
FILENAMES = {
    "incidents_per_day": "incidents_per_day.png",
    "mttr_trend": "mttr_trend.png",
    "slo_budget": "slo_budget.png",
}


@dataclass(frozen=True)
class Charts:
    """Paths of the three PNGs."""

    incidents_per_day: Path
    mttr_trend: Path
    slo_budget: Path

    def all(self) -> list[Path]:
        return [self.incidents_per_day, self.mttr_trend, self.slo_budget]


def _empty_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def incidents_per_day(report: WeeklyReport, path: Path) -> Path:
    """Stacked bars: incidents created per local day, one colour per severity."""
    fig = Figure(figsize=(9, 4.8), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    labels = [f"{d:%a}\n{d:%d %b}" for d, _ in report.per_day]
    x = list(range(len(labels)))
    bottom = [0] * len(labels)
    for sev in SEVERITY_COLORS:
        counts = [by_sev[sev] for _, by_sev in report.per_day]
        ax.bar(x, counts, bottom=bottom, color=SEVERITY_COLORS[sev], label=SEVERITY_NAMES[sev], width=0.65)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for xi, total in zip(x, bottom, strict=True):
        if total:
            ax.text(xi, total, str(total), ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xticks(x, labels)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(bottom) * 1.35 + 0.5)  # headroom for the totals and the legend
    ax.set_ylabel("incidents created")
    ax.set_xlabel(f"day ({report.timezone})")
    ax.set_title(f"Incidents per day by severity — {report.week.label} ({report.current.total} total)")
    if report.current.total:
        ax.legend(loc="upper left", frameon=False, ncols=4, fontsize=9)
    else:
        _empty_note(ax, "no incidents this week")
    _style(ax)
    fig.savefig(path, format="png")
    return path


def _duration_unit(values: list[timedelta]) -> tuple[str, float]:
    longest = max((v.total_seconds() for v in values), default=0.0)
    return ("hours", 3600.0) if longest >= 3 * 3600 else ("minutes", 60.0)


def mttr_trend(report: WeeklyReport, path: Path) -> Path:
    """MTTR median (and p90) per week over the last 8 weeks; weeks without resolved incidents are gaps."""
    fig = Figure(figsize=(9, 4.8), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    points = report.mttr_trend
    medians = [p.mttr.median for p in points]
    p90s = [p.mttr.p90 for p in points]
    unit, scale = _duration_unit([v for v in medians + p90s if v is not None])
    suffix = "h" if unit == "hours" else "min"
    x = list(range(len(points)))
    med_y = [v.total_seconds() / scale if v is not None else float("nan") for v in medians]
    p90_y = [v.total_seconds() / scale if v is not None else float("nan") for v in p90s]
    # p90 first so the median line and its markers stay on top where they coincide
    ax.plot(x, p90_y, marker="s", markersize=6, linewidth=1.4, linestyle="--", color="#8e24aa", label="MTTR p90")
    ax.plot(x, med_y, marker="o", markersize=8, linewidth=2.4, color="#1e88e5", label="MTTR median")
    no_data = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    finite = [v for v in med_y + p90_y if v == v]
    for xi, v in zip(x, med_y, strict=True):
        if v == v:  # not NaN
            ax.annotate(
                f"{v:.1f} {suffix}", (xi, v), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=9
            )
        elif finite:
            ax.text(xi, 0.04, "no resolved\nincidents", transform=no_data, ha="center", fontsize=8, color="#777777")
    labels = [f"{p.week.label}\n{p.week.monday:%d %b}\nn={p.mttr.count}" for p in points]
    ax.set_xticks(x, labels, fontsize=9)
    ax.set_ylim(0, max(finite) * 1.25 if finite else 1)
    ax.set_ylabel(f"time to resolve ({unit})")
    ax.set_xlabel("ISO week (Monday it starts) · n = resolved incidents created that week")
    ax.set_title(f"MTTR trend, last {len(points)} weeks (nearest-rank median and p90)")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    if not finite:
        _empty_note(ax, "no resolved incidents in these weeks")
    _style(ax)
    fig.savefig(path, format="png")
    return path


def _budget_color(remaining: float) -> str:
    if remaining < 0:
        return "#b71c1c"
    if remaining < 0.25:
        return "#ef6c00"
    return "#2e7d32"


def slo_budget(report: WeeklyReport, path: Path) -> Path:
    """Horizontal bars: error budget remaining per SLO (negative = overspent), with the 0 line."""
    slos = report.slos
    fig = Figure(figsize=(9, max(2.8, 1.2 + 0.6 * len(slos))), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(f"SLO error budget remaining — {report.week.label}")
    ax.set_xlabel("error budget remaining this week (100% = untouched, below 0 = overspent)")
    ax.axvline(0, color="black", linewidth=1.2)
    if not slos:
        ax.set_yticks([])
        ax.set_xlim(-0.1, 1.05)
        ax.set_xticks([0.0, 0.5, 1.0], ["0%", "50%", "100%"])
        _empty_note(ax, "no SLOs configured")
        fig.savefig(path, format="png")
        return path
    names = [f"{s.name}\n({s.service}, {s.objective:.2%} {s.kind})" for s in slos]
    y = list(range(len(slos)))[::-1]
    # an overspent budget can be −5000%: draw bars down to −100% and say the real figure in the label
    floor = -1.0
    for yi, s in zip(y, slos, strict=True):
        v = s.budget.remaining
        if v is None:
            ax.text(
                0.02, yi, "no data for the week (see the report's caveats)", va="center", fontsize=9, color="#777777"
            )
            continue
        ax.barh(yi, max(v, floor), color=_budget_color(v), height=0.55)
        achieved = f"achieved {s.achieved:.3%}" if s.achieved is not None else ""
        if v >= 0:
            ax.text(v + 0.02, yi, f"{v:.0%} left  ({achieved})", va="center", fontsize=9)
        else:
            burn = s.budget.burn or 0.0
            ax.text(0.02, yi, f"overspent: burned {burn:.1f}× its budget  ({achieved})", va="center", fontsize=9)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_ylim(-0.6, len(slos) - 0.4)  # fixed, so rows without a bar keep their place
    ax.set_xlim(floor - 0.05, 1.6)
    ticks = [-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0]
    ax.set_xticks(ticks, ["≤ −100%", "−50%", "0%", "25%", "50%", "75%", "100%"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    fig.savefig(path, format="png")
    return path


def render_charts(report: WeeklyReport, out_dir: Path) -> Charts:
    """Draw the three charts into `out_dir` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Charts(
        incidents_per_day=incidents_per_day(report, out_dir / FILENAMES["incidents_per_day"]),
        mttr_trend=mttr_trend(report, out_dir / FILENAMES["mttr_trend"]),
        slo_budget=slo_budget(report, out_dir / FILENAMES["slo_budget"]),
    )
