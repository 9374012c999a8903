"""Template mining vs drain3 on the Loghub 2k samples: grouping accuracy and throughput.

Both miners see exactly the same lines in the same process run, in two modes:

* ``content``: the ``Content`` column of ``<System>_2k.log_structured_corrected.csv``;
* ``raw``: the lines of ``<System>_2k.log`` with their headers. Sherlog drops each header
  with its generic detector (``TemplateMiner.add_line``, timed as part of the work);
  drain3 gets the raw line, as it would in a pipeline without a per-source parser.

drain3 (0.9.11) runs its stock ``TemplateMinerConfig()``: depth 4, sim_th 0.4, max_children 100,
numeric tokens parametrised, no masking instructions, profiling off. For transparency a second
drain3 run gets Sherlog's own masking (``core.logs.masking.mask``) as its masking step; its GA is
reported next to the stock one, and its speed in the JSON.

Timing: each miner starts fresh for every repetition, runs interleaved with the others, with
garbage collection paused for both; the best of ``repeats`` CPU times of this process counts
(CPU time, not wall time, because this machine's cores are shared with other jobs).
Grouping accuracy (Zhu et al., ICSE'19): a line is right iff the set of lines in its predicted
group equals the set of lines sharing its true EventId.
"""

from __future__ import annotations

import csv
import gc
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.errors import InputError
from core.logs.masking import mask
from core.logs.miner import TemplateMiner

SYSTEMS: tuple[str, ...] = ("HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "Linux", "HealthApp", "Apache")
MODES: tuple[str, ...] = ("content", "raw")
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "loghub"


@dataclass
class LoghubSample:
    """One Loghub system: messages, raw lines (same order) and the true EventId of each."""

    system: str
    contents: list[str]
    raw: list[str]
    truth: list[str]


def read_lines(path: Path) -> list[str]:
    """Lines split on ``\\n`` only (a stray ``\\r`` inside a line stays), as ``sherlog logs mine`` reads them."""
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        return [line.rstrip("\r\n") for line in f]


def load_system(root: Path, system: str) -> LoghubSample:
    """Read ``<root>/<system>/<system>_2k.log`` and its corrected ground truth."""
    folder = root / system
    structured = folder / f"{system}_2k.log_structured_corrected.csv"
    raw_path = folder / f"{system}_2k.log"
    if not structured.is_file() or not raw_path.is_file():
        raise InputError(f"Loghub sample for {system} not found under {folder}")
    with structured.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "Content" not in rows[0] or "EventId" not in rows[0]:
        raise InputError(f"{structured} lacks the Content/EventId columns")
    raw = read_lines(raw_path)
    if len(raw) != len(rows):
        raise InputError(f"{raw_path} has {len(raw)} lines but {structured.name} has {len(rows)} rows")
    return LoghubSample(system, [r["Content"] for r in rows], raw, [r["EventId"] for r in rows])


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Share of lines whose predicted group is exactly their true group."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} lines")
    if not truth:
        return 0.0
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, p in enumerate(predicted):
        groups[p].append(i)
    true_sizes = Counter(truth)
    correct = 0
    for members in groups.values():
        label = truth[members[0]]
        if true_sizes[label] == len(members) and all(truth[i] == label for i in members):
            correct += len(members)
    return correct / len(truth)


# ----------------------------------------------------------------------------- miners under test
Runner = Callable[[list[str]], list[Hashable]]


def sherlog_runner(mode: str) -> Runner:
    def run(lines: list[str]) -> list[Hashable]:
        miner = TemplateMiner()
        add = miner.add if mode == "content" else miner.add_line
        ids = [add(line).template_id for line in lines]
        resolve = miner.resolve  # templates merged later: every line gets its final group
        return [resolve(i) for i in ids]

    return run


def drain3_runner(*, masked: bool) -> Runner:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import AbstractMaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    class _SherlogMasking(AbstractMaskingInstruction):
        def __init__(self) -> None:
            super().__init__("*")

        def mask(self, content: str, mask_prefix: str, mask_suffix: str) -> str:
            return mask(content)

    logging.getLogger("drain3").setLevel(logging.WARNING)

    def run(lines: list[str]) -> list[Hashable]:
        config = TemplateMinerConfig()  # depth 4, sim_th 0.4, max_children 100
        config.profiling_enabled = False
        if masked:
            config.masking_instructions = [_SherlogMasking()]
        miner = Drain3Miner(config=config)
        add = miner.add_log_message
        return [add(line)["cluster_id"] for line in lines]

    return run


@dataclass
class Timing:
    """Best CPU and wall seconds over the repetitions, and the last run's groups."""

    cpu: float = float("inf")
    wall: float = float("inf")
    groups: list[Hashable] = field(default_factory=list)


def _timed(run: Runner, lines: list[str], timing: Timing) -> None:
    gc.disable()
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        groups = run(lines)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    finally:
        gc.enable()
    timing.cpu = min(timing.cpu, cpu)
    timing.wall = min(timing.wall, wall)
    timing.groups = groups


# ----------------------------------------------------------------------------- the benchmark
def run_bench(
    data_root: Path = DEFAULT_DATA,
    *,
    systems: Sequence[str] = SYSTEMS,
    modes: Sequence[str] = MODES,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure both miners on every system and mode; returns the JSON-ready results."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    results: dict[str, Any] = {"repeats": repeats, "data": str(data_root), "modes": {}}
    samples = [load_system(data_root, s) for s in systems]
    # Objects alive now (modules, samples) never become garbage: keep them out of collections.
    gc.collect()
    gc.freeze()
    try:
        _measure_all(results, samples, modes, repeats, progress)
    finally:
        gc.unfreeze()
    return results


def _measure_all(
    results: dict[str, Any],
    samples: list[LoghubSample],
    modes: Sequence[str],
    repeats: int,
    progress: Callable[[str], None] | None,
) -> None:
    for mode in modes:
        runners: dict[str, Runner] = {
            "sherlog": sherlog_runner(mode),
            "drain3": drain3_runner(masked=False),
            "drain3_masked": drain3_runner(masked=True),
        }
        rows = []
        for sample in samples:
            if progress:
                progress(f"{mode}: {sample.system}")
            lines = sample.contents if mode == "content" else sample.raw
            timings = {name: Timing() for name in runners}
            gc.collect()  # once per system: a full collection costs more than a run here
            for _ in range(repeats):
                for name, run in runners.items():  # interleaved, so load spikes hit all alike
                    _timed(run, lines, timings[name])
            row: dict[str, Any] = {"system": sample.system, "lines": len(lines)}
            for name, t in timings.items():
                row[name] = {
                    "ga": grouping_accuracy(t.groups, sample.truth),
                    "groups": len(set(t.groups)),
                    "cpu_s": t.cpu,
                    "wall_s": t.wall,
                    "lines_per_s": len(lines) / t.cpu if t.cpu > 0 else float("inf"),
                }
            row["speedup"] = row["sherlog"]["lines_per_s"] / row["drain3"]["lines_per_s"]
            rows.append(row)
        results["modes"][mode] = {"systems": rows, "summary": _summary(rows, list(runners))}


def _summary(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    total_lines = sum(r["lines"] for r in rows)
    out: dict[str, Any] = {}
    for name in names:
        cpu = sum(r[name]["cpu_s"] for r in rows)
        out[name] = {
            "ga_mean": sum(r[name]["ga"] for r in rows) / len(rows),
            "lines_per_s": total_lines / cpu if cpu > 0 else float("inf"),
        }
    out["speedup"] = out["sherlog"]["lines_per_s"] / out["drain3"]["lines_per_s"]
    out["speedup_min"] = min(r["speedup"] for r in rows)
    out["ga_not_below_drain3"] = all(r["sherlog"]["ga"] >= r["drain3"]["ga"] for r in rows)
    return out


def _kps(lines_per_s: float) -> str:
    return f"{lines_per_s / 1000:,.0f}k"


def render(results: dict[str, Any], console: Console) -> None:
    """Print one table per mode: GA and lines/s for both miners, and the speed ratio."""
    for mode, block in results["modes"].items():
        what = "Content column" if mode == "content" else "raw lines with headers"
        table = Table(
            title=f"Loghub 2k, {what}: Sherlog vs drain3 0.9.11",
            caption=f"lines/s: best of {results['repeats']} runs, CPU time; "
            "d3+mask = drain3 fed Sherlog's masking; ratio = Sherlog / drain3 lines/s",
        )
        for col in ("system", "GA ours", "GA drain3", "GA d3+mask", "ours l/s", "drain3 l/s", "ratio"):
            table.add_column(col, justify="left" if col == "system" else "right")
        for r in block["systems"]:
            table.add_row(
                r["system"],
                f"{r['sherlog']['ga']:.4f}",
                f"{r['drain3']['ga']:.4f}",
                f"{r['drain3_masked']['ga']:.4f}",
                _kps(r["sherlog"]["lines_per_s"]),
                _kps(r["drain3"]["lines_per_s"]),
                f"{r['speedup']:.2f}x",
            )
        s = block["summary"]
        table.add_section()
        table.add_row(
            "all",
            f"{s['sherlog']['ga_mean']:.4f}",
            f"{s['drain3']['ga_mean']:.4f}",
            f"{s['drain3_masked']['ga_mean']:.4f}",
            _kps(s["sherlog"]["lines_per_s"]),
            _kps(s["drain3"]["lines_per_s"]),
            f"{s['speedup']:.2f}x",
        )
        console.print(table)
        console.print(
            f"  {mode}: GA mean {s['sherlog']['ga_mean']:.4f} vs drain3 {s['drain3']['ga_mean']:.4f}; "
            f"GA >= drain3 on every system: {'yes' if s['ga_not_below_drain3'] else 'NO'}; "
            f"speed {s['speedup']:.2f}x over all lines, lowest system {s['speedup_min']:.2f}x"
        )
