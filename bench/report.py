"""The markdown report: machine facts, the table of cases, ratios, growth and targets.

Pure formatting over measured results; nothing here runs a command but ``git rev-parse``.
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from procstat import Stats

BEGIN_PREFIX = "<!-- bench:begin"
BEGIN = "<!-- bench:begin (written by bench/run.py; edit outside these markers) -->"
END = "<!-- bench:end -->"
RSS_LIMIT_MB = 80.0
# init may add argon2id's 64 MiB (Authelia's parameters) to the 50 MB budget (issue 10).
INIT_RSS_LIMIT_MB = 64 * 2**20 / 1e6 + 50
PACKAGES = ("click", "jinja2", "ruamel.yaml", "cookiecutter", "copier", "cryptography",
            "argon2-cffi")  # fmt: skip
# A doubling of the marginal cost per component between 10->100 and 100->300 is what we call
# worse than linear; smaller wobbles are noise on a shared machine.
SUPERLINEAR_FACTOR = 2.0
NOISE_SECONDS = 0.15


@dataclass(frozen=True)
class Case:
    """One measured command.

    Attributes:
        key: Stable id, shown in the table (tests look for it).
        label: The command as a user types it.
        ours: True for scaffold's own commands (the RSS target applies to them).
        size: Components in the repository, for the scale cases.
    """

    key: str
    label: str
    ours: bool = False
    size: int | None = None


@dataclass(frozen=True)
class Result:
    """A case and its measurement; ``stats`` is None when the case was skipped."""

    case: Case
    stats: Stats | None
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """One target of issue 10; ``met`` is None when this run did not measure it."""

    target: str
    measured: str
    met: bool | None


def machine_facts(project: Path) -> list[tuple[str, str]]:
    """What the numbers depend on: CPU, cores, Python, OS, load, versions, commit."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return [
        ("CPU", _cpu_model()),
        ("cores (nproc)", str(_cores())),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", platform.platform()),
        ("load average at the end (1, 5, 15 min)", load),
        ("packages", versions),
        ("scaffold commit", _commit(project)),
        ("date (UTC)", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")),
    ]


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))  # what nproc prints
    return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(project: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(project), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes" if git("status", "--porcelain", "--", "src") else "")


def _seconds(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _mb(stats: Stats) -> float:
    return stats.peak_rss_mib * 2**20 / 1e6


def case_rows(results: Sequence[Result]) -> list[str]:
    """The main table: one row per case."""
    rows = [
        "| case | command | runs | wall median s (min-max) | CPU median s | peak RSS MB | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        case, stats = result.case, result.stats
        if stats is None:
            rows.append(f"| `{case.key}` | `{case.label}` | 0 | skipped | | | {result.note} |")
            continue
        spread = f"{_seconds(stats.wall)} ({_seconds(stats.wall_min)}-{_seconds(stats.wall_max)})"
        rows.append(
            f"| `{case.key}` | `{case.label}` | {len(stats.samples)} | {spread} | "
            f"{_seconds(stats.cpu)} | {_mb(stats):.0f} | {result.note} |"
        )
    return rows


def _ratio(results: Mapping[str, Result], top: str, bottom: str) -> tuple[float, float] | None:
    """(wall ratio, CPU ratio) of two measured cases, or None when one was skipped."""
    a, b = results.get(top), results.get(bottom)
    if a is None or b is None or a.stats is None or b.stats is None:
        return None
    return a.stats.wall / b.stats.wall, a.stats.cpu / max(b.stats.cpu, 1e-9)


RATIOS = (
    ("help", "floor-click", "scaffold --help / click floor"),
    ("init", "floor-init", "scaffold init / init floor"),
    ("init-manual", "floor-init", "scaffold init (manual secrets) / init floor"),
    ("init", "copier", "scaffold init / copier, same tree"),
    ("init", "cookiecutter", "scaffold init / cookiecutter, same tree"),
    ("init-manual", "copier", "scaffold init (manual secrets) / copier"),
    ("init-manual", "cookiecutter", "scaffold init (manual secrets) / cookiecutter"),
    ("drift-stack", "validate-stack", "validate --drift / validate, default stack"),
)


def ratio_rows(results: Mapping[str, Result]) -> list[str]:
    """Ratios between cases of this run (wall, and CPU for a busy machine)."""
    rows = ["| ratio | wall | CPU |", "|---|---|---|"]
    for top, bottom, label in RATIOS:
        ratio = _ratio(results, top, bottom)
        shown = ("skipped", "") if ratio is None else (f"{ratio[0]:.2f}x", f"{ratio[1]:.2f}x")
        rows.append(f"| {label} | {shown[0]} | {shown[1]} |")
    return rows


SCALE_COMMANDS = ("validate", "add", "regenerate", "diff")


def _median(results: Mapping[str, Result], key: str, cpu: bool = False) -> float | None:
    result = results.get(key)
    if result is None or result.stats is None:
        return None
    return result.stats.cpu if cpu else result.stats.wall


def growth_rows(results: Mapping[str, Result], sizes: Sequence[int]) -> list[str]:
    """Medians by repository size (wall, CPU), growth first->last, CPU cost per component."""
    header = "| command | " + " | ".join(f"{n} components" for n in sizes)
    rows = [
        header + " | growth (wall, CPU) | CPU ms per added component, by step |",
        "|---|" + "---|" * (len(sizes) + 2),
    ]
    for command in SCALE_COMMANDS:
        walls = [_median(results, f"{command}-{n}") for n in sizes]
        cpus = [_median(results, f"{command}-{n}", cpu=True) for n in sizes]
        cells = " | ".join(
            "skipped" if w is None or c is None else f"{_seconds(w)} s ({_seconds(c)} CPU)"
            for w, c in zip(walls, cpus, strict=True)
        )
        growth = ""
        if len(sizes) > 1 and None not in walls and None not in cpus:
            growth = f"{_growth(walls)}, {_growth(cpus)}"
        slopes = ", ".join(f"{x * 1000:.1f}" for x in _slopes(cpus, sizes))
        rows.append(f"| {command} | {cells} | {growth} | {slopes} |")
    return rows


def _growth(values: Sequence[float | None]) -> str:
    first, last = values[0], values[-1]
    return f"{last / first:.2f}x" if first and last else ""


def _slopes(values: Sequence[float | None], sizes: Sequence[int]) -> list[float]:
    points = [(n, v) for n, v in zip(sizes, values, strict=True) if v is not None]
    return [(v2 - v1) / (n2 - n1) for (n1, v1), (n2, v2) in itertools.pairwise(points)]


def _linear(values: Sequence[float | None], sizes: Sequence[int]) -> bool | None:
    """False when the cost per added component grows by more than SUPERLINEAR_FACTOR from one
    step to the next (and by more than noise); None without three sizes."""
    if None in values or len(sizes) < 3:
        return None
    slopes = _slopes(values, sizes)
    steps = [b - a for a, b in itertools.pairwise(sizes)]
    for (s1, s2), step in zip(itertools.pairwise(slopes), steps[1:], strict=True):
        if s2 > SUPERLINEAR_FACTOR * max(s1, 0.0) and (s2 - max(s1, 0.0)) * step > NOISE_SECONDS:
            return False
    return True


def verdicts(results: Mapping[str, Result], sizes: Sequence[int]) -> list[Verdict]:
    """Issue 10's targets against this run: wall medians, as the issue measures; CPU medians
    shown beside them, and used for the growth shape, which a busy machine distorts least."""
    found = [
        _ratio_verdict(
            results, "help", "floor-click", 1.3, "`scaffold --help` <= 1.3x the click floor"
        ),
        _ratio_verdict(
            results,
            "init-manual",
            "cookiecutter",
            1.0,
            "`init --set secrets=manual` <= 1.0x cookiecutter, same tree",
        ),
        _ratio_verdict(results, "init", "copier", 1.0, "`init` (sealed) <= 1.0x copier, same tree"),
        _ratio_verdict(
            results, "drift-stack", "validate-stack", 2.0, "`validate --drift` <= 2x `validate`"
        ),
    ]
    for command in SCALE_COMMANDS:
        label = f"`{command}` with 300 components <= 3x the init floor"
        if 300 not in sizes:
            found.append(Verdict(label, "not measured", None))
        else:
            found.append(_ratio_verdict(results, f"{command}-300", "floor-init", 3.0, label))
    for command in SCALE_COMMANDS:
        cpus = [_median(results, f"{command}-{n}", cpu=True) for n in sizes]
        linear = _linear(cpus, sizes)
        slopes = ", ".join(f"{x * 1000:.1f}" for x in _slopes(cpus, sizes))
        measured = (
            f"CPU ms per component by step: {slopes}" if linear is not None else "not measured"
        )
        found.append(Verdict(f"`{command}` grows no worse than linearly", measured, linear))
    found += _rss_verdicts(results)
    return found


def _ratio_verdict(
    results: Mapping[str, Result], top: str, bottom: str, limit: float, label: str
) -> Verdict:
    ratio = _ratio(results, top, bottom)
    if ratio is None:
        return Verdict(label, "not measured", None)
    return Verdict(label, f"{ratio[0]:.2f}x (CPU {ratio[1]:.2f}x)", ratio[0] <= limit)


def _rss_verdicts(results: Mapping[str, Result]) -> list[Verdict]:
    """init (sealed or manual) under INIT_RSS_LIMIT_MB; every other scaffold case under
    RSS_LIMIT_MB."""
    found = []
    for label, limit, pick in (
        (f"peak RSS of init <= {INIT_RSS_LIMIT_MB:.0f} MB", INIT_RSS_LIMIT_MB, True),
        (f"peak RSS < {RSS_LIMIT_MB:.0f} MB for every other case", RSS_LIMIT_MB, False),
    ):
        measured = [
            (r.case.key, _mb(r.stats))
            for r in results.values()
            if r.case.ours and r.stats and r.case.key.startswith("init") == pick
        ]
        if not measured:
            found.append(Verdict(label, "not measured", None))
            continue
        over = [f"{key} {mb:.0f}" for key, mb in measured if mb > limit]
        worst = max(measured, key=lambda item: item[1])
        shown = f"over: {', '.join(over)} MB" if over else f"highest {worst[0]} {worst[1]:.0f} MB"
        found.append(Verdict(label, shown, not over))
    return found


def verdict_rows(found: Sequence[Verdict]) -> list[str]:
    """The targets table."""
    rows = ["| target | measured | met |", "|---|---|---|"]
    marks = {True: "yes", False: "**no**", None: "not measured"}
    rows += [f"| {v.target} | {v.measured} | {marks[v.met]} |" for v in found]
    return rows


def generated_section(
    results: Sequence[Result], facts: Sequence[tuple[str, str]], how: str, sizes: Sequence[int]
) -> str:
    """Everything between the markers of docs/benchmarks.md."""
    by_key = {r.case.key: r for r in results}
    lines = [BEGIN, "", f"Run: `{how}`", ""]
    lines += [f"- {name}: {value}" for name, value in facts]
    lines += ["", "### Cases", "", *case_rows(results), "", "### Ratios (same run)", ""]
    lines += [*ratio_rows(by_key), "", "### Growth with repository size (medians)", ""]
    lines += [*growth_rows(by_key, sizes), "", "### Targets (issue 10)", ""]
    lines += [*verdict_rows(verdicts(by_key, sizes)), "", END]
    return "\n".join(lines) + "\n"


_PREAMBLE = """\
# Benchmarks

`python bench/run.py` (needs `pip install '.[bench]'`) writes the section below. See the top
of `bench/run.py` for what each case runs.
"""


def write_report(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (keeping the text around it), or create it."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(BEGIN_PREFIX)
    end = text.find(END, start) if start != -1 else -1
    if end != -1:
        text = text[:start] + section.rstrip("\n") + text[end + len(END) :]
    else:
        text = _PREAMBLE + "\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def print_summary(section: str) -> None:
    """The generated section on stdout, for a run without --output."""
    sys.stdout.write(section)
