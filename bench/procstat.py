"""Measure one child process: wall time, CPU time and peak resident set size.

The child is reaped with ``os.wait4``, whose resource usage covers that child and the
processes it waited for itself (git, for instance): CPU times are summed over them and
``ru_maxrss`` is the largest of them, which is what ``/usr/bin/time -f %M`` reports. No
third-party package is needed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in KiB on Linux, in bytes on macOS.
_RSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024


class CaseFailed(RuntimeError):
    """A measured command exited with a code the case does not accept."""


@dataclass(frozen=True)
class Sample:
    """One run of one command."""

    wall: float
    cpu: float
    peak_rss_mib: float
    exit_code: int


@dataclass(frozen=True)
class Stats:
    """The measured runs of one case (warm-up excluded)."""

    samples: tuple[Sample, ...]

    @property
    def wall(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        """Median CPU time (user + system) in seconds."""
        return statistics.median(s.cpu for s in self.samples)

    @property
    def wall_min(self) -> float:
        """Fastest run, seconds."""
        return min(s.wall for s in self.samples)

    @property
    def wall_max(self) -> float:
        """Slowest run, seconds."""
        return max(s.wall for s in self.samples)

    @property
    def peak_rss_mib(self) -> float:
        """Largest peak RSS over the runs, MiB."""
        return max(s.peak_rss_mib for s in self.samples)

    @property
    def exit_codes(self) -> tuple[int, ...]:
        """Distinct exit codes seen, sorted."""
        return tuple(sorted({s.exit_code for s in self.samples}))


def run_once(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    accept: Sequence[int] = (0,),
) -> Sample:
    """Run ``argv`` to completion and measure it.

    Raises:
        CaseFailed: The exit code is not in ``accept``; the message holds the output's tail.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        # wait4 reaped the child; tell Popen so it never waits for it again.
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in accept:
            out.seek(0)
            tail = out.read().decode("utf-8", errors="replace")[-2000:]
            raise CaseFailed(f"{' '.join(argv)} exited {process.returncode}:\n{tail}")
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss * _RSS_UNIT_BYTES / 2**20,
        exit_code=process.returncode,
    )


@dataclass(frozen=True)
class Command:
    """A command to measure; ``prepare`` (untimed) runs before every run and returns its cwd.

    Attributes:
        argv: The command line; ``{dir}`` in an argument is replaced by what ``prepare``
            returned.
        prepare: Builds a fresh working folder for one run (a new destination, a copy of a
            repository) and returns it.
        accept: Exit codes that count as success.
    """

    argv: tuple[str, ...]
    prepare: Callable[[], Path]
    accept: tuple[int, ...] = (0,)


def measure(
    commands: Sequence[Command], *, env: Mapping[str, str], runs: int, warmup: int
) -> list[Stats]:
    """``warmup`` untimed rounds, then ``runs`` measured ones; each round runs every command once.

    Interleaving the commands of a group (A B C A B C ...) spreads a change of machine load over
    all of them, so the ratios between them stay fair.
    """
    samples: list[list[Sample]] = [[] for _ in commands]
    for index in range(warmup + runs):
        for command, kept in zip(commands, samples, strict=True):
            folder = command.prepare()
            argv = [arg.replace("{dir}", str(folder)) for arg in command.argv]
            sample = run_once(argv, cwd=folder, env=env, accept=command.accept)
            if index >= warmup:
                kept.append(sample)
    return [Stats(tuple(kept)) for kept in samples]
