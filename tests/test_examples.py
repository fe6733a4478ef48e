"""Golden trees: each examples/<name>/scaffold.yaml renders exactly to examples/<name>/repo/.

The render goes through the CLI (``scaffold init --config examples/<name>/scaffold.yaml DEST``)
and is compared file by file. secrets/ is left out (its values are random), and so are the few
other random bytes: SealedSecret ciphertexts (a fresh session key every time) and the state
file's hashes of secret files, which both sides show as ``RANDOM-PER-INIT``; everything else is
deterministic. ``pytest --update-goldens`` rewrites repo/ from the current templates instead.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    EXAMPLES_DIR,
    Generated,
    example_names,
    read_tree,
    without_randomness,
    yaml_documents,
)

from homelab_scaffold.catalog.loader import load_catalog

REQUIRED_EXAMPLES = {"full-stack", "minimal", "cloudflare"}
SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"


def comparable(tree: dict[str, str]) -> dict[str, str]:
    """The tree with its random-by-design bytes masked."""
    return {path: without_randomness(path, text) for path, text in tree.items()}


def _diff_report(name: str, golden: dict[str, str], rendered: dict[str, str]) -> str:
    lines = []
    missing = sorted(set(golden) - set(rendered))
    extra = sorted(set(rendered) - set(golden))
    if missing:
        lines.append(f"no longer rendered: {', '.join(missing)}")
    if extra:
        lines.append(f"newly rendered: {', '.join(extra)}")
    for path in sorted(set(golden) & set(rendered)):
        if golden[path] != rendered[path]:
            diff = difflib.unified_diff(
                golden[path].splitlines(keepends=True),
                rendered[path].splitlines(keepends=True),
                f"examples/{name}/repo/{path}",
                f"rendered/{path}",
            )
            lines.append("".join(list(diff)[:40]))
    lines.append("If the change is intended: pytest tests/test_examples.py --update-goldens")
    return "\n".join(lines)


def _rewrite_golden(golden_dir: Path, rendered: dict[str, str]) -> None:
    if golden_dir.exists():
        shutil.rmtree(golden_dir)
    for path, text in rendered.items():
        target = golden_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")


def test_the_required_examples_exist() -> None:
    assert set(example_names()) >= REQUIRED_EXAMPLES


@pytest.mark.parametrize("name", example_names())
def test_example_renders_to_its_golden_tree(
    name: str, rendered_examples: dict[str, Generated], update_goldens: bool
) -> None:
    rendered = comparable(rendered_examples[name].tree(secrets=False))
    golden_dir = EXAMPLES_DIR / name / "repo"
    if update_goldens:
        _rewrite_golden(golden_dir, rendered)
    assert golden_dir.is_dir(), f"{golden_dir} is missing; run pytest --update-goldens"
    golden = comparable(read_tree(golden_dir))
    assert not any(p.startswith("secrets/") for p in golden), "secrets/ must not be checked in"
    assert golden == rendered, _diff_report(name, golden, rendered)


def _values(generated: Generated, app: str) -> dict[str, Any]:
    text = (generated.root / f"kubernetes/system/{app}/values.yaml").read_text()
    values: dict[str, Any] = yaml.safe_load(text) or {}
    return values


def test_full_stack_example_is_the_default_stack(rendered_examples: dict[str, Generated]) -> None:
    default_stack = {n for n, c in load_catalog().components.items() if c.in_default_stack}
    assert set(rendered_examples["full-stack"].answers()["components"]) == default_stack


def test_full_stack_example_uses_crds_enabled(rendered_examples: dict[str, Generated]) -> None:
    values = _values(rendered_examples["full-stack"], "cert-manager")
    assert values["crds"]["enabled"] is True
    assert "installCRDs" not in values


def test_cloudflare_example_shows_the_values_of_an_older_cert_manager(
    rendered_examples: dict[str, Generated],
) -> None:
    generated = rendered_examples["cloudflare"]
    values = _values(generated, "cert-manager")
    assert values["installCRDs"] is True
    assert "crds" not in values
    app = yaml.safe_load(
        (generated.root / "kubernetes/system/argocd-config/cert-manager.yaml").read_text()
    )
    assert app["spec"]["sources"][0]["targetRevision"] == "v1.14.4"


def test_cloudflare_example_issues_through_cloudflare_dns01(
    rendered_examples: dict[str, Generated],
) -> None:
    config = rendered_examples["cloudflare"].root / "kubernetes/system/cert-manager-config"
    issuers = [
        doc
        for path in sorted(config.glob("*.yaml"))
        for doc in yaml_documents(path.read_text())
        if doc["kind"] == "ClusterIssuer"
    ]
    assert [i["metadata"]["name"] for i in issuers] == ["letsencrypt-cloudflare"]
    solvers = issuers[0]["spec"]["acme"]["solvers"]
    assert solvers[0]["dns01"]["cloudflare"]["apiTokenSecretRef"]["name"]


def test_minimal_example_selects_only_what_it_needs(
    rendered_examples: dict[str, Generated],
) -> None:
    generated = rendered_examples["minimal"]
    assert set(generated.answers()["components"]) == {"argocd", "metallb", "traefik", "test-app"}
    apps = sorted(p.stem for p in (generated.root / "kubernetes/system/argocd-config").glob("*"))
    assert apps == [
        "argocd",
        "metallb",
        "metallb-config",
        "projects",
        "root-app",
        "test-app",
        "traefik",
    ]


@pytest.mark.skipif(
    not (SHARED_SCHEMAS / "README.md").is_file(),
    reason=f"upstream schemas not found at {SHARED_SCHEMAS} (../shared is absent)",
)
@pytest.mark.parametrize("name", example_names())
def test_every_golden_manifest_validates_against_the_schemas(name: str) -> None:
    schema_check = pytest.importorskip("schema_check")
    errors = []
    golden_dir = EXAMPLES_DIR / name / "repo"
    for path in sorted((golden_dir / "kubernetes").rglob("*.y*ml")):
        if path.name == "values.yaml":
            continue  # Helm values, checked against the charts' schemas by the component tests
        for document in yaml_documents(path.read_text()):
            relative = path.relative_to(golden_dir).as_posix()
            errors += [f"{relative}: {e}" for e in schema_check.validate_document(document)]
    assert errors == []


# Versions an example pins on purpose whose schema and default values ../shared does not hold
# (the cloudflare example runs an older cert-manager to show `scaffold upgrade`).
UNCHECKED_EXAMPLE_VERSIONS = {("cert-manager", "v1.14.4")}


def test_unchecked_example_versions_are_really_absent() -> None:
    schema_check = pytest.importorskip("schema_check")
    for chart, version in UNCHECKED_EXAMPLE_VERSIONS:
        assert schema_check.helm_values_problems(chart, version, {}) != [], (chart, version)


@pytest.mark.skipif(
    not (SHARED_SCHEMAS / "README.md").is_file(),
    reason=f"upstream schemas not found at {SHARED_SCHEMAS} (../shared is absent)",
)
@pytest.mark.parametrize("name", example_names())
def test_every_golden_helm_values_file_validates_against_its_chart(name: str) -> None:
    schema_check = pytest.importorskip("schema_check")
    golden_dir = EXAMPLES_DIR / name / "repo"
    errors = []
    for path in sorted((golden_dir / "kubernetes/system/argocd-config").glob("*.yaml")):
        for app in yaml_documents(path.read_text()):
            if app["kind"] != "Application" or "sources" not in app["spec"]:
                continue
            chart = app["spec"]["sources"][0]
            values_ref = chart["helm"]["valueFiles"][0].removeprefix("$values/")
            values = yaml.safe_load((golden_dir / values_ref).read_text()) or {}
            if (chart["chart"], chart["targetRevision"]) in UNCHECKED_EXAMPLE_VERSIONS:
                continue  # listed below: no data of that version is held
            found = schema_check.helm_values_problems(
                chart["chart"], chart["targetRevision"], values
            )
            errors += [f"{values_ref}: {e}" for e in found]
    assert errors == []
