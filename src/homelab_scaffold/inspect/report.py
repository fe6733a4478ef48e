"""Turn a validation Report into text lines or JSON (no printing here)."""

from __future__ import annotations

import json
from typing import Any

from homelab_scaffold.inspect.model import Problem, Report


def location(problem: Problem) -> str:
    """``file[:line] (document N, Kind/name)`` or ``(repository)``."""
    where = problem.file or "(repository)"
    if problem.line is not None:
        where += f":{problem.line}"
    details = []
    if problem.document is not None:
        details.append(f"document {problem.document}")
    if problem.resource:
        details.append(problem.resource)
    return f"{where} ({', '.join(details)})" if details else where


def text_lines(report: Report) -> list[str]:
    """One line per problem, then a summary line."""
    lines = [f"{location(p)}: {p.message} [{p.check}]" for p in report.problems]
    lines.append(summary(report))
    return lines


def summary(report: Report) -> str:
    """``N problems in F files (D documents checked)`` or the clean equivalent."""
    checked = f"{report.files_checked} files, {report.documents_checked} documents checked"
    if report.ok:
        return f"No problems found ({checked})."
    count = len(report.problems)
    files = len({p.file for p in report.problems})
    noun = "problem" if count == 1 else "problems"
    where = "file" if files == 1 else "files"
    return f"{count} {noun} in {files} {where} ({checked})."


def to_json(report: Report) -> str:
    """The report as a JSON document for scripts (stable key order)."""
    data: dict[str, Any] = {
        "ok": report.ok,
        "directory": str(report.root),
        "files_checked": report.files_checked,
        "documents_checked": report.documents_checked,
        "problems": [_problem(p) for p in report.problems],
        "notes": list(report.notes),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def _problem(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "document": problem.document,
        "resource": problem.resource,
        "check": problem.check,
        "message": problem.message,
    }
