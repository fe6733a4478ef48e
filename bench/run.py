"""Benchmark scaffold against its floors, copier and cookiecutter, and at scale (issues 6, 10).

    pip install '.[bench]'                         # copier (cookiecutter is a dependency)
    python bench/run.py                            # median of 5 after a warm-up; 10/100/300
    python bench/run.py --output docs/benchmarks.md
    python bench/run.py --quick                    # one run of each case, small repos (CI)

Every case is a whole process, started the way a user starts it (the console scripts next to
this Python), measured for wall time, CPU time (user + system, children included) and peak
resident set size (``os.wait4``; the largest process of the tree, like ``/usr/bin/time %M``):

- ``floor-click``: ``python -c "import click"``, what ``--help`` cannot avoid;
- ``floor-init``: ``python -c "import click, jinja2, ruamel.yaml, cookiecutter.generate"``;
- ``help``: ``scaffold --help``;
- ``init``: ``scaffold init --no-input DEST``, the full stack with sealed secrets (a new
  RSA-4096 sealing key, argon2id hashes); ``init-manual`` the same with ``--set secrets=manual``;
- ``copier`` / ``cookiecutter``: the tree an (untimed) ``scaffold init --no-input`` wrote,
  rendered by copier and by cookiecutter from a template built here out of that tree (one
  Jinja file per file, the answers and chart versions as variables); the output is checked to
  be byte-identical;
- ``validate-stack`` / ``drift-stack``: ``scaffold validate --offline`` without and with
  ``--drift`` in a committed copy of that tree (the default stack);
- ``validate-N`` / ``add-N`` / ``regenerate-N`` / ``diff-N``: ``scaffold validate --offline``
  (schemas from ../shared/schemas when present), ``scaffold add helm-app grafana ...`` (on a
  fresh copy each run), ``scaffold regenerate`` and ``scaffold diff`` with nothing to do, in a
  committed repository of N components: the default stack plus generic helm-app instances.

The cases of a group (floors and help; init and the reference tools; the three commands of
one repository size) run interleaved, round after round, so a change in machine load touches
all of them alike. Ratios are taken between cases of the same run. Nothing here asserts on
timings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equivalent import (
    read_tree,
    tree_difference,
    write_cookiecutter_template,
    write_copier_template,
)
from procstat import CaseFailed, Command, Stats, measure
from report import Case, Result, generated_section, machine_facts, print_summary, write_report
from ruamel.yaml import YAML

PROJECT = Path(__file__).resolve().parents[1]
SCHEMAS = PROJECT.parent / "shared" / "schemas"
FULL_SIZES = (10, 100, 300)
QUICK_SIZES = (10, 20)
REPO_URL = "https://github.com/alice/homelab-infrastructure.git"
ADD_HELM_APP = (
    "add", "helm-app", "grafana",
    "--repo", "https://grafana.github.io/helm-charts",
    "--chart", "grafana", "--version", "8.5.0", "--namespace", "monitoring",
    "--needs", "traefik",
)  # fmt: skip
INIT_IMPORTS = "import click, jinja2, ruamel.yaml, cookiecutter.generate"
GIT_IDENTITY = ("-c", "user.name=Bench", "-c", "user.email=bench@example.com")


@dataclass(frozen=True)
class Settings:
    """How much to run."""

    runs: int
    warmup: int
    sizes: tuple[int, ...]
    quick: bool


class Bench:
    """The scratch folder, the environment of every command, and the results so far."""

    def __init__(self, work: Path, settings: Settings) -> None:
        self.work = work
        self.settings = settings
        self.results: list[Result] = []
        self._folders = 0
        home = work / "home"
        home.mkdir()
        # A private HOME: cookiecutter's replay files and copier's settings stay in here.
        self.env = {
            **os.environ,
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }

    def folder(self, prefix: str) -> Path:
        """A new empty folder for one run."""
        self._folders += 1
        path = self.work / f"{prefix}-{self._folders:03d}"
        path.mkdir()
        return path

    def record(self, group: Sequence[tuple[Case, Command | str]]) -> dict[str, Stats]:
        """Measure a group of cases interleaved and keep their results in order.

        A case paired with a string instead of a command is kept as skipped, for that reason.
        """
        runnable = [(case, command) for case, command in group if isinstance(command, Command)]
        measured = measure(
            [command for _, command in runnable],
            env=self.env,
            runs=self.settings.runs,
            warmup=self.settings.warmup,
        )
        stats = {case.key: result for (case, _), result in zip(runnable, measured, strict=True)}
        for case, command in group:
            if isinstance(command, str):
                self.results.append(Result(case, None, f"skipped: {command}"))
            else:
                self.results.append(Result(case, stats[case.key]))
        return stats

    def annotate(self, key: str, note: str) -> None:
        """Attach a note to the result of case ``key``."""
        self.results = [
            Result(r.case, r.stats, "; ".join(filter(None, [r.note, note])))
            if r.case.key == key
            else r
            for r in self.results
        ]

    def check(self, argv: Sequence[str], cwd: Path) -> str:
        """Run a setup command (untimed); its stdout. Raises CalledProcessError on failure."""
        done = subprocess.run(
            list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout


def console_script(name: str) -> str | None:
    """The console script ``name`` installed next to this Python, else on PATH."""
    script = Path(sys.executable).with_name(name)
    if script.is_file():
        return str(script)
    return shutil.which(name)


def _fixed(path: Path) -> Callable[[], Path]:
    return lambda: path


class Fresh:
    """A ``prepare`` that gives every run a new empty folder and remembers the last one."""

    def __init__(self, bench: Bench, prefix: str) -> None:
        self.bench = bench
        self.prefix = prefix
        self.last: Path | None = None

    def __call__(self) -> Path:
        self.last = self.bench.folder(self.prefix)
        return self.last


def scaffold() -> str:
    """The scaffold console script (the benchmark needs the project installed)."""
    found = console_script("scaffold")
    if found is None:
        sys.exit(f"no scaffold next to {sys.executable} nor on PATH: pip install '.[bench]'")
    return found


def floor_cases(bench: Bench) -> None:
    """The import floors and ``scaffold --help``."""
    python = sys.executable
    here = _fixed(bench.work)
    bench.record(
        [
            (
                Case("floor-click", 'python -c "import click"'),
                Command((python, "-c", "import click"), here),
            ),
            (
                Case("floor-init", f'python -c "{INIT_IMPORTS}"'),
                Command((python, "-c", INIT_IMPORTS), here),
            ),
            (Case("help", "scaffold --help", ours=True), Command((scaffold(), "--help"), here)),
        ]
    )


def generation_cases(bench: Bench, source: Path) -> None:
    """``scaffold init`` (sealed and manual secrets) beside copier and cookiecutter rendering
    ``source`` (a tree init wrote) from equivalent templates."""
    expected = read_tree(source)
    argv = (scaffold(), "init", "--no-input", "{dir}/homelab")
    group: list[tuple[Case, Command | str]] = [
        (
            Case("init", "scaffold init --no-input DEST", ours=True),
            Command(argv, Fresh(bench, "init")),
        ),
        (
            Case("init-manual", "scaffold init --no-input --set secrets=manual DEST", ours=True),
            Command((*argv, "--set", "secrets=manual"), Fresh(bench, "init-manual")),
        ),
    ]
    references = [
        _reference(bench, expected, "copier", "copier copy --defaults TEMPLATE DEST"),
        _reference(bench, expected, "cookiecutter", "cookiecutter --no-input TEMPLATE"),
    ]
    bench.record(group + [(case, command) for case, command, _ in references])
    for case, _, fresh in references:
        if fresh is not None and fresh.last is not None:
            difference = tree_difference(expected, read_tree(fresh.last / "homelab"))
            if difference:
                raise CaseFailed(f"{case.key} did not render scaffold's tree: {difference}")


def _reference(
    bench: Bench, expected: dict[str, bytes], tool: str, label: str
) -> tuple[Case, Command | str, Fresh | None]:
    """copier or cookiecutter with a template built from ``expected`` (and the folders of its
    runs), or why it cannot run."""
    case = Case(tool, f"{label} ({len(expected)} Jinja files)")
    script = console_script(tool)
    if script is None:
        return case, f"{tool} is not installed (pip install '.[bench]')", None
    template = bench.work / f"{tool}-template"
    argv: tuple[str, ...]
    if tool == "copier":
        write_copier_template(expected, template)
        argv = (script, "copy", "--defaults", "--quiet", str(template), "{dir}/homelab")
    else:
        write_cookiecutter_template(expected, template)
        argv = (script, "--no-input", "--output-dir", "{dir}", str(template))
    fresh = Fresh(bench, tool)
    return case, Command(argv, fresh), fresh


def build_scale_repo(bench: Bench, base: Path, size: int) -> Path:
    """A committed repository with ``size`` components: ``base``'s stack plus helm-apps."""
    repo = bench.work / f"repo-{size}"
    shutil.copytree(base, repo, symlinks=True)
    answers = repo / "scaffold.yaml"
    doc = _answers_yaml().load(answers)
    doc["repo_url"] = REPO_URL
    components = doc["components"]
    if size < len(components):
        raise SystemExit(f"size {size} is below the default stack's {len(components)} components")
    for index in range(size - len(components)):
        instance: dict[str, Any] = {
            "from": "helm-app",
            "repo": f"https://charts{index % 7}.example.com/helm",
            "chart": f"chart{index:03d}",
            "version": "1.0.0",
        }
        if index % 2:
            instance["needs"] = ["traefik"]
        components[f"app{index:03d}"] = instance
    _answers_yaml().dump(doc, answers)
    bench.check([scaffold(), "regenerate", "-C", str(repo)], repo)
    bench.check(["git", "init", "-q"], repo)
    bench.check(["git", "add", "-A"], repo)
    bench.check(["git", *GIT_IDENTITY, "commit", "-q", "-m", "baseline"], repo)
    return repo


def _answers_yaml() -> YAML:
    """Round-trip YAML formatted the way scaffold writes scaffold.yaml, so the file reads as if
    ``scaffold add`` had written it (a hand-formatted file costs regenerate more)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def scale_cases(bench: Bench, base: Path, size: int) -> None:
    """validate, add and regenerate on a repository of ``size`` components."""
    repo = build_scale_repo(bench, base, size)
    validate = [scaffold(), "validate", "-C", "{dir}", "--offline"]
    if SCHEMAS.is_dir():
        validate += ["--schema-location", str(SCHEMAS)]

    def copy() -> Path:
        target = bench.folder(f"add-{size}")
        shutil.copytree(repo, target, symlinks=True, dirs_exist_ok=True)
        # A copied index has stale stat data; refresh it so add does not pay for that.
        bench.check(["git", "update-index", "-q", "--refresh"], target)
        return target

    keys = {name: f"{name}-{size}" for name in ("validate", "add", "regenerate", "diff")}
    stats = bench.record(
        [
            (
                Case(keys["validate"], "scaffold validate --offline", ours=True, size=size),
                Command(tuple(validate), _fixed(repo), accept=(0, 1)),
            ),
            (
                Case(keys["add"], "scaffold add helm-app grafana ... (one more)", ours=True),
                Command((scaffold(), *ADD_HELM_APP, "-C", "{dir}"), copy),
            ),
            (
                Case(keys["regenerate"], "scaffold regenerate (nothing to do)", ours=True),
                Command((scaffold(), "regenerate", "-C", "{dir}"), _fixed(repo)),
            ),
            (
                Case(keys["diff"], "scaffold diff (nothing to show)", ours=True),
                Command((scaffold(), "diff", "-C", "{dir}"), _fixed(repo)),
            ),
        ]
    )
    if not SCHEMAS.is_dir():
        bench.annotate(keys["validate"], "no ../shared/schemas: CRDs not schema-checked")
    if 1 in stats[keys["validate"]].exit_codes:
        bench.annotate(keys["validate"], "exit 1: validate reported problems")
    status = bench.check(["git", "status", "--porcelain"], repo)
    changed = [line[3:] for line in status.splitlines()]
    if changed:
        note = f"changed {len(changed)} files (e.g. {changed[0]}): not a no-op"
        bench.annotate(keys["regenerate"], note)


def stack_cases(bench: Bench, source: Path) -> None:
    """``validate --offline`` with and without ``--drift`` on the default stack, committed."""
    repo = bench.work / "stack"
    shutil.copytree(source, repo, symlinks=True)
    bench.check(["git", "init", "-q"], repo)
    bench.check(["git", "add", "-A"], repo)
    bench.check(["git", *GIT_IDENTITY, "commit", "-q", "--allow-empty", "-m", "stack"], repo)
    validate = [scaffold(), "validate", "-C", "{dir}", "--offline"]
    if SCHEMAS.is_dir():
        validate += ["--schema-location", str(SCHEMAS)]
    bench.record(
        [
            (
                Case("validate-stack", "scaffold validate --offline (default stack)", ours=True),
                Command(tuple(validate), _fixed(repo)),
            ),
            (
                Case(
                    "drift-stack", "scaffold validate --offline --drift (default stack)", ours=True
                ),
                Command((*validate, "--drift"), _fixed(repo)),
            ),
        ]
    )


def parse_settings(argv: Sequence[str] | None) -> tuple[Settings, Path | None]:
    """Command-line options -> (settings, report path or None for stdout)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each, small repos")
    parser.add_argument("--output", type=Path, help="markdown file to write (default: stdout)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case (median)")
    parser.add_argument("--sizes", type=int, nargs="+", help="components per scale repository")
    args = parser.parse_args(argv)
    if args.quick:
        settings = Settings(1, 0, tuple(args.sizes or QUICK_SIZES), True)
    else:
        settings = Settings(max(args.runs, 1), 1, tuple(args.sizes or FULL_SIZES), False)
    return settings, args.output


def main(argv: Sequence[str] | None = None) -> None:
    """Run every case and write (or print) the report."""
    settings, output = parse_settings(argv)
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-") as scratch:
        bench = Bench(Path(scratch), settings)
        floor_cases(bench)
        source = bench.work / "source"
        # Untimed: the tree copier and cookiecutter reproduce, and the base of the scale repos.
        bench.check([scaffold(), "init", "--no-input", str(source)], bench.work)
        generation_cases(bench, source)
        stack_cases(bench, source)
        for size in sorted(settings.sizes):
            scale_cases(bench, source, size)
    how = "python bench/run.py" + (" --quick" if settings.quick else "")
    if not settings.quick:
        how += f" --runs {settings.runs}"
    how += " --sizes " + " ".join(map(str, sorted(settings.sizes)))
    section = generated_section(bench.results, machine_facts(PROJECT), how, settings.sizes)
    if output is None:
        print_summary(section)
    else:
        write_report(output, section)
        print(f"wrote {output}")


if __name__ == "__main__":
    try:
        main()
    except CaseFailed as failure:
        sys.exit(f"benchmark failed: {failure}")
    except subprocess.CalledProcessError as failure:
        sys.exit(f"benchmark setup failed: {' '.join(failure.cmd)}: {failure.stderr}")
