"""Turn a tree scaffold rendered into equivalent copier and cookiecutter templates.

Every file of the tree becomes one Jinja template whose answer values (domain, repo URL, chart
versions, ...) are replaced by variables; text that looks like Jinja (Helm's own ``{{ }}``) is
wrapped in ``{% raw %}``. Rendering the template with its defaults must give back the tree byte
for byte, which :func:`tree_difference` checks, so the comparison is between equal outputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

_JINJA_OPENERS = ("{{", "{%", "{#")
_RAW_CLOSER = "{% endraw %}"
# A value counts only as a whole token: "main" must not match inside "domain".
_BEFORE = r"(?<![A-Za-z0-9_])"
_AFTER = r"(?![A-Za-z0-9_])"
COOKIECUTTER_ROOT = "{{cookiecutter.repo_dir}}"
_CHART_PIN = re.compile(r'chart: "?([\w.-]+)"?\n\s*targetRevision: "?([\w.+-]+)"?')


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (``.git`` excluded): posix relative path -> bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def tree_difference(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> str:
    """An empty string when both trees are equal, else what differs first."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    if missing or extra:
        return f"missing {missing[:5]}, unexpected {extra[:5]}"
    for path in sorted(expected):
        if expected[path] != actual[path]:
            return f"{path} differs"
    return ""


def templatize(text: str, variables: Mapping[str, str], reference: Callable[[str], str]) -> str:
    """``text`` as a Jinja template rendering back to ``text`` with ``variables``' values.

    Args:
        text: The rendered file.
        variables: Variable name -> the value it stands for.
        reference: How a template spells a variable (``domain`` or ``cookiecutter.domain``).
    """
    by_value = {value: name for name, value in variables.items() if value}
    if not by_value:
        return _literal(text)
    alternatives = "|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True))
    pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}")
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        parts.append(_literal(text[position : match.start()]))
        parts.append("{{ " + reference(by_value[match.group()]) + " }}")
        position = match.end()
    parts.append(_literal(text[position:]))
    return "".join(parts)


def _literal(text: str) -> str:
    # A trailing "{" would join the "{{" of the variable that follows into "{{{".
    if not any(opener in text for opener in _JINJA_OPENERS) and not text.endswith("{"):
        return text
    if _RAW_CLOSER in text:
        raise ValueError("a rendered file contains '{% endraw %}'; cannot template it")
    return "{% raw %}" + text + _RAW_CLOSER


def answer_variables(tree: Mapping[str, bytes]) -> dict[str, str]:
    """The values a template author would make variables: the global answers and chart pins.

    Read from the rendered tree itself: ``scaffold.yaml``'s top-level scalars and every
    Application's Helm chart version.
    """
    variables: dict[str, str] = {}
    answers = tree.get("scaffold.yaml", b"").decode("utf-8")
    for key in ("repo_url", "target_revision", "domain", "email", "timezone"):
        match = re.search(rf"^{key}: *(\S+)", answers, re.MULTILINE)
        if match:
            variables[key] = match.group(1).strip("'\"")
    prefix = "kubernetes/system/argocd-config/"
    for path, data in sorted(tree.items()):
        if path.startswith(prefix):
            chart = _CHART_PIN.search(data.decode("utf-8"))
            if chart:
                name = re.sub(r"\W", "_", chart.group(1))
                variables[f"{name}_version"] = chart.group(2)
    return variables


def _write_templates(
    tree: Mapping[str, bytes],
    variables: Mapping[str, str],
    destination: Path,
    reference: Callable[[str], str],
    suffix: str,
) -> None:
    for path, data in tree.items():
        target = destination / (path + suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(templatize(data.decode("utf-8"), variables, reference), encoding="utf-8")


def write_copier_template(tree: Mapping[str, bytes], root: Path) -> None:
    """A copier template in ``root`` (files under ``template/``, ``.jinja`` suffix)."""
    variables = answer_variables(tree)
    # type str: copier's default (yaml) would turn a version such as 4.10 into the float 4.1.
    questions = {k: {"type": "str", "default": v} for k, v in variables.items()}
    config = {"_subdirectory": "template", **questions}
    root.mkdir(parents=True)
    # JSON is YAML, and needs no YAML library here.
    (root / "copier.yml").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    _write_templates(tree, variables, root / "template", lambda name: name, ".jinja")


def write_cookiecutter_template(tree: Mapping[str, bytes], root: Path) -> None:
    """A cookiecutter template in ``root``; it renders into the folder ``homelab``."""
    variables = answer_variables(tree)
    context = {"repo_dir": "homelab", **variables}
    root.mkdir(parents=True)
    (root / "cookiecutter.json").write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    _write_templates(
        tree, variables, root / COOKIECUTTER_ROOT, lambda name: f"cookiecutter.{name}", ""
    )
