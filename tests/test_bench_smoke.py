"""The benchmark's quick mode runs end to end, so bench/run.py cannot rot (issue 6).

One real run of ``bench/run.py --quick`` (about half a minute on two cores): every case gets a
row, copier and cookiecutter render the same tree as scaffold (the script fails otherwise), and
the report replaces only its own section of an existing file. Nothing asserts on timings.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
RUN = PROJECT / "bench" / "run.py"
QUICK_SIZES = (10, 20)
CASES = (
    "floor-click",
    "floor-init",
    "help",
    "init",
    "init-manual",
    "copier",
    "cookiecutter",
    "validate-stack",
    "drift-stack",
    *(
        f"{command}-{size}"
        for size in QUICK_SIZES
        for command in ("validate", "add", "regenerate", "diff")
    ),
)
REFERENCE_MODULES = {"copier": "copier", "cookiecutter": "cookiecutter"}
BEGIN = "<!-- bench:begin"
END = "<!-- bench:end -->"


def _scaffold_installed() -> bool:
    return Path(sys.executable).with_name("scaffold").is_file()


def _row(report: str, key: str) -> list[str]:
    rows = [line for line in report.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(rows) == 1, f"expected one table row for {key}, found {len(rows)}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not _scaffold_installed():
        pytest.skip(f"scaffold is not installed next to {sys.executable} (pip install -e .)")
    output = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    output.write_text(f"# Mine\n\nhand-written\n\n{BEGIN} -->\nold table\n{END}\n\ntail\n")
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--output", str(output)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return output.read_text(encoding="utf-8")


def test_every_case_has_a_measured_row(report: str) -> None:
    for key in CASES:
        cells = _row(report, key)
        module = REFERENCE_MODULES.get(key)
        if module is not None and importlib.util.find_spec(module) is None:
            assert cells[3] == "skipped" and "not installed" in cells[6], cells
            continue
        assert cells[2] == "1", cells  # --quick: a single run
        float(cells[3].split()[0])  # a wall time
        float(cells[5])  # a peak RSS


def test_reference_tools_are_compared_when_installed(report: str) -> None:
    for module in REFERENCE_MODULES.values():
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed; the bench extra provides it")
    for label in ("scaffold init / copier, same tree", "scaffold init / cookiecutter, same tree"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
        assert row.split("|")[2].strip().endswith("x"), row


def test_report_names_the_machine_and_the_targets(report: str) -> None:
    for fact in ("- CPU:", "- cores (nproc):", "- Python: ", "- packages:"):
        assert fact in report
    assert "### Targets (issue 10)" in report
    for target in (
        "| peak RSS of init <= 117 MB |",
        "| peak RSS < 80 MB for every other case |",
        "| `validate --drift` <= 2x `validate` |",
        "| `diff` with 300 components <= 3x the init floor | not measured |",
    ):
        assert target in report


def test_only_the_generated_section_is_replaced(report: str) -> None:
    assert report.startswith("# Mine\n\nhand-written\n\n" + BEGIN)
    assert report.endswith(END + "\n\ntail\n")
    assert "old table" not in report
    assert report.count(BEGIN) == 1
