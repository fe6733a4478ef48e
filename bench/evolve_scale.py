"""How `scaffold add` scales with the size of the repository (issue 3's 300-instance check).

For each COUNT: write a scaffold.yaml with COUNT generic helm-app instances, `scaffold regenerate`
it once, commit, then time `scaffold add helm-app grafana ...` (the installed `scaffold` next to
this Python, as a user runs it) and list the files that add created, rewrote or deleted.

    python bench/evolve_scale.py            # 300 instances
    python bench/evolve_scale.py 0 100 300  # several sizes, to see how the time grows

Not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCAFFOLD = Path(sys.executable).with_name("scaffold")
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
}
ADD = [
    "add", "helm-app", "grafana",
    "--repo", "https://grafana.github.io/helm-charts",
    "--chart", "grafana", "--version", "8.5.0", "--namespace", "monitoring",
    "--needs", "traefik",
]  # fmt: skip


def answers(count: int) -> str:
    """scaffold.yaml with traefik and ``count`` helm-app instances on seven chart repos."""
    lines = [
        "repo_url: https://github.com/alice/homelab-infrastructure.git",
        "domain: lab.example.com",
        "components:",
        "  traefik: {}",
    ]
    for index in range(count):
        lines += [
            f"  app{index:03d}:",
            "    from: helm-app",
            f"    repo: https://charts{index % 7}.example.com/helm",
            f"    chart: chart{index:03d}",
            "    version: 1.0.0",
        ]
    return "\n".join(lines) + "\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(root: Path, *args: str) -> tuple[float, float]:
    """Run ``scaffold ARGS -C root``; return (wall-clock, CPU) seconds.

    CPU time (user + system of the child) is what to compare when the machine is busy.
    """
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run([str(SCAFFOLD), *args, "-C", str(root)], check=True, capture_output=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def git(root: Path, *args: str) -> None:
    env = {**GIT_ENV, "HOME": str(root)}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def file_stats(root: Path) -> dict[str, tuple[int, int, int]]:
    """path -> (inode, mtime_ns, size): a rewrite through temp file + rename changes the inode."""
    stats = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git" or not path.is_file():
            continue
        info = path.stat()
        stats[relative.as_posix()] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return stats


def measure(count: int, base: Path) -> None:
    root = base / f"repo-{count}"
    root.mkdir()
    (root / "scaffold.yaml").write_text(answers(count), encoding="utf-8")
    regenerate, _ = run(root, "regenerate")
    git(root, "init", "-q")
    git(root, "config", "user.name", "Bench")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    before = file_stats(root)
    seconds, cpu = run(root, *ADD)
    after = file_stats(root)

    created = sorted(after.keys() - before.keys())
    deleted = sorted(before.keys() - after.keys())
    rewritten = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    untouched = len(before.keys() & after.keys()) - len(rewritten)
    print(f"{count} instances ({len(before)} files): first regenerate {regenerate:.2f} s")
    print(f"  scaffold add helm-app grafana: {seconds:.2f} s wall, {cpu:.2f} s CPU")
    print(f"  created   {created}")
    print(f"  rewritten {rewritten}")
    print(f"  deleted   {deleted}")
    print(f"  untouched {untouched} files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[300], help="instances per run")
    args = parser.parse_args()
    if not SCAFFOLD.is_file():
        sys.exit(f"no scaffold next to {sys.executable}; install the project into this venv")
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-") as tmp:
        cpu, start = _children_cpu(), time.perf_counter()
        subprocess.run([str(SCAFFOLD), "--version"], check=True, capture_output=True)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        print(f"start-up (scaffold --version): {wall:.2f} s wall, {cpu:.2f} s CPU")
        for count in args.counts:
            measure(count, Path(tmp))


if __name__ == "__main__":
    main()
