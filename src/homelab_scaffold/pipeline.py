"""The whole pipeline in memory: answers -> catalog + plan -> rendered files.

Commands call this and then hand the result to ``write``; nothing here touches the user's tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_scaffold.answers import Answers, parse_answers
from homelab_scaffold.catalog import Catalog, load_catalog
from homelab_scaffold.graph import Plan, build_plan
from homelab_scaffold.render import render_plan, render_secrets
from homelab_scaffold.secretvalues import NewSecret, argon2id, fill_values
from homelab_scaffold.skeleton import render_skeleton


@dataclass(frozen=True)
class Rendered:
    """A rendered repository, not yet written."""

    plan: Plan
    files: dict[str, str]
    secret_files: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, dict[str, str]] = field(default_factory=dict)
    new_secrets: tuple[NewSecret, ...] = ()

    @property
    def warnings(self) -> list[str]:
        """Things the user should know (versions outside the known range, ...)."""
        return list(self.plan.warnings)


def load_catalog_for(answers: Answers, base: Path | None) -> Catalog:
    """The catalog with the answers' ``catalog_paths`` (relative to the repo root) applied."""
    root = base if base is not None else Path.cwd()
    return load_catalog(tuple(root / p for p in answers.catalog_paths))


def skeleton_variables(plan: Plan) -> dict[str, Any]:
    """cookiecutter.json values for the skeleton, with the plan's facts in ``_scaffold``."""
    answers = plan.answers
    apps = [
        {
            "name": app.name,
            "component": app.component,
            "wave": str(app.wave),
            "namespace": app.spec.namespace,
            "chart": f"{app.chart.name} {app.chart.version}" if app.chart else "",
            "repo": app.chart.repo if app.chart else "",
            "path": f"kubernetes/{app.spec.path}",
        }
        for app in plan.apps
    ]
    secret_namespaces = sorted(
        {c.component.namespace for c in plan.components.values() if c.component.secrets}
    )
    argocd = plan.components["argocd"]
    chart = argocd.component.chart
    return {
        "repo_name": "homelab",
        "domain": answers.domain,
        "repo_url": answers.repo_url,
        "target_revision": answers.target_revision,
        "_scaffold": {
            "apps": apps,
            "selected": sorted(plan.components),
            "argocd_chart_repo": chart.repo if chart else "",
            "argocd_chart_version": str(argocd.version),
            "has_secrets": bool(secret_namespaces),
            "secret_namespaces": secret_namespaces,
        },
    }


def render_answers(
    answers: Answers,
    catalog: Catalog,
    *,
    existing_secrets: Mapping[str, Mapping[str, str]] | None = None,
    source: str = "scaffold.yaml",
) -> Rendered:
    """Render every file the answers describe (tracked files and gitignored secrets)."""
    plan = build_plan(answers, catalog, source)
    files = render_plan(plan)
    files.update(render_skeleton(skeleton_variables(plan)))
    values, created = fill_values(plan, existing_secrets or {})
    secret_files = render_secrets(plan, values, {"argon2id": argon2id})
    return Rendered(plan, dict(sorted(files.items())), secret_files, values, tuple(created))


def render_config(mapping: Mapping[str, Any], *, base: Path | None = None) -> Rendered:
    """Convenience for tests and tools: a scaffold.yaml mapping -> Rendered."""
    answers = parse_answers(mapping, "scaffold.yaml")
    return render_answers(answers, load_catalog_for(answers, base))
