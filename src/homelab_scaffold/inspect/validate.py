"""Run every check over a repository and collect one Report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from homelab_scaffold.inspect import checks_argocd, checks_basic, checks_images, checks_secrets
from homelab_scaffold.inspect.apps import build_inventory
from homelab_scaffold.inspect.checks_ordering import check_ordering
from homelab_scaffold.inspect.checks_podsecurity import check_pod_security
from homelab_scaffold.inspect.loader import load_repo
from homelab_scaffold.inspect.model import Problem, Report
from homelab_scaffold.inspect.schemas import CATALOG_URL, SchemaStore, check_schemas


@dataclass(frozen=True)
class ValidateOptions:
    """What ``scaffold validate`` was asked to do."""

    root: Path
    schema_locations: tuple[str, ...] = ()
    offline: bool = False
    drift: bool = False
    cache_dir: Path | None = None
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
    inventory = build_inventory(loaded.repo, _repo_urls(options.root))
    problems: list[Problem] = [
        *loaded.problems,
        *checks_basic.check_objects(inventory),
        *check_schemas(inventory.manifests, store),
        *checks_argocd.check_argocd(inventory),
        *check_ordering(inventory),
        *check_pod_security(inventory),
        *checks_images.check_images(inventory),
        *checks_secrets.check_secrets(inventory),
    ]
    if options.drift:
        from homelab_scaffold.inspect.drift import check_drift

        problems.extend(check_drift(options.root))
    return Report(
        root=options.root,
        problems=_unique_sorted(problems),
        notes=(*loaded.notes, *_schema_notes(store)),
        files_checked=len(loaded.repo.files),
        documents_checked=sum(1 for doc in loaded.repo.documents() if doc.body is not None),
    )


def _repo_urls(root: Path) -> list[str]:
    """This repository's own URLs: git's origin and scaffold.yaml's repo_url, when present."""
    from homelab_scaffold.inspect.loader import parse_yaml_documents
    from homelab_scaffold.repo.git import origin_url

    urls = [origin_url(root) or ""]
    try:
        bodies, error = parse_yaml_documents((root / "scaffold.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return urls
    if error is None and bodies and isinstance(bodies[0], dict):
        repo_url = bodies[0].get("repo_url")
        urls.append(repo_url if isinstance(repo_url, str) else "")
    return urls


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
