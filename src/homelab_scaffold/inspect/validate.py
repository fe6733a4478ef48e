"""Run every check over a repository and collect one Report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_scaffold.catalog.model import Catalog
from homelab_scaffold.catalog.options import check_relative_path
from homelab_scaffold.errors import CatalogError, ScaffoldError
from homelab_scaffold.inspect import (
    checks_argocd,
    checks_basic,
    checks_images,
    checks_middlewares,
    checks_secrets,
)
from homelab_scaffold.inspect.apps import Inventory, build_inventory
from homelab_scaffold.inspect.checks_ordering import check_ordering
from homelab_scaffold.inspect.checks_podsecurity import check_pod_security
from homelab_scaffold.inspect.loader import load_repo, own_urls, read_answers
from homelab_scaffold.inspect.model import Problem, Report
from homelab_scaffold.inspect.schemas import CATALOG_URL, SchemaStore, check_schemas

ANSWERS_FILE = "scaffold.yaml"
CATALOG_CHECK = "catalog"
ANSWERS_CHECK = "answers"


@dataclass(frozen=True)
class ValidateOptions:
    """What ``scaffold validate`` was asked to do."""

    root: Path
    schema_locations: tuple[str, ...] = ()
    offline: bool = False
    drift: bool = False
    charts: bool = False
    cache_dir: Path | None = None
    chart_cache_dir: Path | None = None
    catalog_url: str = CATALOG_URL
    timeout: float = 20.0
    notify: Callable[[str], None] | None = field(default=None, compare=False)


def validate_repo(options: ValidateOptions) -> Report:
    """Every problem of the repository at ``options.root``, sorted, with informational notes."""
    store = SchemaStore(
        options.schema_locations,
        offline=options.offline,
        cache_dir=options.cache_dir,
        catalog_url=options.catalog_url,
        timeout=options.timeout,
        notify=options.notify,
    )
    loaded = load_repo(options.root)
    answers = read_answers(options.root)
    inventory = build_inventory(loaded.repo, own_urls(options.root, answers))
    catalog, catalog_problems = _catalog_of(options.root, answers)
    problems: list[Problem] = [
        *loaded.problems,
        *(catalog_problems or _check_answers(answers, catalog)),
        *checks_basic.check_objects(inventory),
        *check_schemas(inventory.manifests, store),
        *checks_argocd.check_argocd(inventory),
        *_check_ordering(inventory, catalog),
        *check_pod_security(inventory),
        *checks_images.check_images(inventory),
        *checks_middlewares.check_middlewares(inventory),
        *checks_secrets.check_secrets(inventory),
    ]
    if options.drift:
        from homelab_scaffold.inspect.drift import check_drift

        problems.extend(check_drift(options.root))
    chart_notes: list[str] = []
    if options.charts:
        found, chart_notes = _check_charts(inventory, options)
        problems.extend(found)
    store.save()
    return Report(
        root=options.root,
        problems=_unique_sorted(problems),
        notes=(*loaded.notes, *_schema_notes(store), *chart_notes),
        files_checked=len(loaded.repo.files),
        documents_checked=sum(1 for doc in loaded.repo.documents() if doc.body is not None),
    )


def _check_charts(
    inventory: Inventory, options: ValidateOptions
) -> tuple[list[Problem], list[str]]:
    """``--charts``: each Helm Application's values against the chart version it pins."""
    if options.offline:
        return [], ["--offline: Helm values not checked against their charts (--charts needs "
                    "the chart repositories)"]
    from homelab_scaffold.inspect.chart_check import check_pinned_charts
    from homelab_scaffold.inspect.charts import ChartFetcher

    fetcher = ChartFetcher(cache_dir=options.chart_cache_dir, timeout=options.timeout)
    return check_pinned_charts(inventory, fetcher)


def _check_ordering(inventory: Inventory, catalog: Catalog) -> list[Problem]:
    """The ordering checks with what the catalog's and the known charts install."""
    from homelab_scaffold.catalog.charts import chart_facts

    return check_ordering(inventory, chart_facts(catalog), catalog.controller_crd_groups)


def _catalog_of(root: Path, answers: dict[str, Any] | None) -> tuple[Catalog, list[Problem]]:
    """The built-in catalog with the repository's own ``catalog_paths``. A broken repository
    catalog is a problem; the built-in catalog still counts."""
    from homelab_scaffold.catalog.loader import load_catalog

    paths = (answers or {}).get("catalog_paths") or []
    if not isinstance(paths, list) or not all(_is_folder_name(p) for p in paths):
        message = (
            "catalog_paths is not a list of folders inside the repository; only the built-in "
            "catalog was used"
        )
        return load_catalog(), [Problem(ANSWERS_FILE, CATALOG_CHECK, message)]
    try:
        return load_catalog(root / p for p in paths), []
    except CatalogError as exc:
        message = f"{exc.message}; only the built-in catalog was used for the ordering checks"
        return load_catalog(), [Problem(ANSWERS_FILE, CATALOG_CHECK, message)]


def _check_answers(answers: dict[str, Any] | None, catalog: Catalog) -> list[Problem]:
    """scaffold.yaml plans as scaffold would plan it (values of the option types, addresses in
    their pools, known components): a hand edit that every scaffold command would refuse."""
    if answers is None:
        return []
    from homelab_scaffold.generate.answers import parse_answers
    from homelab_scaffold.generate.plan import build_plan

    try:
        build_plan(parse_answers(answers, ANSWERS_FILE), catalog, ANSWERS_FILE)
    except ScaffoldError as exc:
        message = exc.message.removeprefix(f"{ANSWERS_FILE}: ")
        return [Problem(ANSWERS_FILE, ANSWERS_CHECK, message)]
    return []


def _is_folder_name(value: Any) -> bool:
    try:
        check_relative_path(value)
    except ValueError:
        return False
    return True


def _schema_notes(store: SchemaStore) -> list[str]:
    notes = []
    if store.downloaded:
        notes.append(f"downloaded {len(store.downloaded)} schema(s) into the schema cache")
    if store.skipped:
        kinds = ", ".join(sorted(store.skipped))
        notes.append(f"--offline: no schema available for {kinds}; not schema-checked")
    return notes


def _unique_sorted(problems: Sequence[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(set(problems), key=Problem.sort_key))
