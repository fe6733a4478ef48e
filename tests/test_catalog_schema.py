"""component.schema.json: the format of component.yaml, checked when the catalog loads.

The schema documents every field (a description on each) and is closed everywhere; every built-in
component.yaml and the schema's own examples validate; a broken component.yaml, built-in or from
a user catalog, fails in one line naming the file, the key path and what is valid.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Run

from homelab_scaffold.catalog import loader, resources
from homelab_scaffold.catalog.charts import KNOWN_CHARTS_FILE, known_charts
from homelab_scaffold.catalog.loader import builtin_components_dir, component_dirs, load_catalog
from homelab_scaffold.catalog.options import CHECKERS
from homelab_scaffold.catalog.resources import templates_root
from homelab_scaffold.catalog.schema import (
    COMPONENT_SCHEMA,
    KNOWN_CHARTS_SCHEMA,
    SHIPPED,
    check_against_schema,
    load_schema,
)
from homelab_scaffold.errors import CatalogError

Scaffold = Callable[..., Run]
SCHEMA_FILE = ROOT / "src/homelab_scaffold/catalog/component.schema.json"


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local or cross-file ``$ref`` followed (one level)."""
    ref = node.get("$ref")
    if not ref:
        return node
    file, _, pointer = ref.partition("#")
    target = load_schema(file.removesuffix(".schema.json")) if file else schema
    for part in pointer.strip("/").split("/"):
        target = target[part]
    return target


def schema_nodes(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object below ``node`` (properties, $defs, items, branches), with its place."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in ("properties", "$defs"):
        for name, child in (node.get(key) or {}).items():
            yield from schema_nodes(child, f"{where}/{key}/{name}")
    for key in ("items", "additionalProperties", "then", "else", "propertyNames"):
        yield from schema_nodes(node.get(key), f"{where}/{key}")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_property_has_a_description(name: str) -> None:
    schema = load_schema(name)
    missing = [
        f"{where}/properties/{prop}"
        for where, node in schema_nodes(schema)
        for prop, child in (node.get("properties") or {}).items()
        if not child.get("description") and not resolve(schema, child).get("description")
    ]
    assert missing == []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_object_is_closed(name: str) -> None:
    schema = load_schema(name)
    open_objects = [
        where
        for where, node in schema_nodes(schema)
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_the_schema_is_draft_2020_12_and_valid() -> None:
    from jsonschema.validators import Draft202012Validator

    for name in SHIPPED:
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_the_schema_ships_inside_the_package() -> None:
    from importlib.resources import files

    shipped = files("homelab_scaffold.catalog") / "component.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == json.loads(SCHEMA_FILE.read_text())


@pytest.mark.parametrize("name", SHIPPED)
def test_the_schemas_own_examples_validate(name: str) -> None:
    examples = load_schema(name)["examples"]
    assert examples
    for example in examples:
        check_against_schema(name, example, f"{name} example")


def test_the_option_types_are_the_checkers() -> None:
    option = load_schema(COMPONENT_SCHEMA)["$defs"]["option"]["properties"]["type"]
    assert option["enum"] == list(CHECKERS)
    for kind in CHECKERS:
        assert f"{kind}:" in option["description"], kind


def test_every_built_in_component_yaml_validates() -> None:
    dirs = component_dirs(builtin_components_dir())
    assert len(dirs) >= 10
    for folder in dirs:
        data = yaml.safe_load((folder / "component.yaml").read_text())
        check_against_schema(COMPONENT_SCHEMA, data, str(folder))


def test_known_charts_validates_and_names_no_catalog_chart() -> None:
    path = templates_root() / KNOWN_CHARTS_FILE
    check_against_schema(KNOWN_CHARTS_SCHEMA, yaml.safe_load(path.read_text()), str(path))
    catalog_charts = {c.chart.name for c in load_catalog().components.values() if c.chart}
    assert set(known_charts()) and not set(known_charts()) & catalog_charts


# ---------------------------------------------------------------------------------------------
# Errors: one line, the file, the key path, what is valid


GOOD: dict[str, Any] = {
    "description": "Widgets",
    "chart": {"repo": "https://charts.example.org", "name": "widgets", "version": "1.0.0"},
    "options": {"size": {"type": "choice", "choices": ["s", "m"], "default": "s"}},
    "applications": [{"name": "widgets", "type": "helm"}],
}
# case -> (change to GOOD, key path in the message, words saying what is valid)
SCHEMA_ERRORS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "unknown key": (
        lambda d: d.update(colour="blue"),
        "at colour:",
        "unknown key 'colour'; valid: applications, chart,",
    ),
    "unknown nested key": (
        lambda d: d["applications"][0].update(wave=3),
        "at applications[0].wave:",
        "valid: after, config, crd_groups, name, namespace, needs, path, project, sync_options, type",
    ),
    "wrong type": (
        lambda d: d["applications"][0].update(needs="traefik"),
        "at applications[0].needs:",
        "expected a list, got 'traefik'",
    ),
    "wrong type of a flag": (
        lambda d: d.update(default="yes"),
        "at default:",
        "expected true or false, got 'yes'",
    ),
    "bad enum": (
        lambda d: d["applications"][0].update(type="helmx"),
        "at applications[0].type:",
        "'helmx' is not one of: helm, manifests",
    ),
    "bad option type": (
        lambda d: d["options"]["size"].update(type="colour"),
        "at options.size.type:",
        "not one of: names, string, domain, hostname, email, name, quantity, url",
    ),
    "missing required": (
        lambda d: d["chart"].pop("repo"),
        "at chart:",
        "missing required key 'repo'",
    ),
    "missing applications": (
        lambda d: d.pop("applications"),
        "at top level:",
        "missing required key 'applications'",
    ),
    "choice without choices": (
        lambda d: d["options"]["size"].pop("choices"),
        "at options.size:",
        "missing required key 'choices'",
    ),
    "bad pattern": (
        lambda d: d.update(namespace="Widgets"),
        "at namespace:",
        "'Widgets' is not valid: expected a lowercase name",
    ),
    "bad crd group": (
        lambda d: d["chart"].update(crd_groups=["widgets"]),
        "at chart.crd_groups[0]:",
        "expected a Kubernetes API group",
    ),
    "latest image": (
        lambda d: d.update(images={"web": {"repository": "docker.io/x/web", "tag": "latest"}}),
        "at images.web.tag:",
        "not latest",
    ),
    "bad sync option": (
        lambda d: d["applications"][0].update(sync_options=["server side apply"]),
        "at applications[0].sync_options[0]:",
        "expected an Argo CD sync option Name=value",
    ),
    "provided secret without env": (
        lambda d: d.update(secrets={"token": {"provided": True, "description": "a token"}}),
        "at secrets.token:",
        "missing required key 'env'",
    ),
    "generated secret too short": (
        lambda d: d.update(secrets={"token": {"generate": "token", "length": 8}}),
        "at secrets.token.length:",
        "minimum of 16",
    ),
    "stateful without description": (
        lambda d: d.update(stateful=[{"kind": "PersistentVolumeClaim", "name": "data"}]),
        "at stateful[0]:",
        "missing required key 'description'",
    ),
    "provides unknown key": (
        lambda d: d.update(provides={"ingress": "traefik"}),
        "at provides.ingress:",
        "unknown key 'ingress'; did you mean ingress_class?",
    ),
    "privileged without a reason": (
        lambda d: d.update(pod_security={"level": "privileged"}),
        "at pod_security:",
        "missing required key 'reason'",
    ),
    "unknown group": (
        lambda d: d.update(group="databases"),
        "at group:",
        "'databases' is not one of: platform, network, storage, security, observability, apps",
    ),
    "ui without a title": (
        lambda d: d.update(ui={"icon": "widgets.png"}),
        "at ui:",
        "missing required key 'title'",
    ),
    "required_when without a list": (
        lambda d: d["options"]["size"].update(required_when={"version": "1.0.0"}),
        "at options.size.required_when.version:",
        "expected a list, got '1.0.0'",
    ),
    "a name with a final newline": (
        lambda d: d["applications"][0].update(name="widgets\n"),
        "at applications[0].name:",
        "is not valid",
    ),
}


def write_component(root: Path, name: str, data: Mapping[str, Any]) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "component.yaml"
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path


def broken(case: str) -> dict[str, Any]:
    data = json.loads(json.dumps(GOOD))
    SCHEMA_ERRORS[case][0](data)
    return data


def test_the_good_component_loads(tmp_path: Path) -> None:
    write_component(tmp_path, "widgets", GOOD)
    assert load_catalog([tmp_path]).get("widgets").chart is not None


@pytest.mark.parametrize("case", SCHEMA_ERRORS, ids=list(SCHEMA_ERRORS))
def test_a_user_catalog_error_names_file_key_and_what_is_valid(tmp_path: Path, case: str) -> None:
    _, key, valid = SCHEMA_ERRORS[case]
    path = write_component(tmp_path, "widgets", broken(case))
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    message = error.value.message
    assert message.startswith(f"{path}: {key} ")
    assert valid in message
    assert "\n" not in message


@pytest.fixture
def builtin_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of the built-in components, loaded (and named) as the shipped ones."""
    copy = Path(shutil.copytree(builtin_components_dir(), tmp_path / "templates" / "components"))
    monkeypatch.setattr(loader, "builtin_components_dir", lambda: copy)
    monkeypatch.setattr(resources, "templates_root", lambda: copy.parent)
    loader._load_catalog.cache_clear()
    yield copy
    loader._load_catalog.cache_clear()


BUILTIN_ERRORS = {
    # component, change, key path, what is valid
    "unknown key": (
        "traefik", lambda d: d.update(chrat={}), "at chrat:", "unknown key 'chrat'; did you mean chart?"
    ),
    "wrong type": (
        "longhorn",
        lambda d: d["provides"].update(storage_classes="longhorn"),
        "at provides.storage_classes:",
        "expected a list, got 'longhorn'",
    ),
    "bad enum": (
        "authelia",
        lambda d: d["secrets"]["admin_password"].update(generate="passphrase"),
        "at secrets.admin_password.generate:",
        "'passphrase' is not one of: token, password",
    ),
    "missing required": (
        "vaultwarden",
        lambda d: d["images"]["vaultwarden"].pop("tag"),
        "at images.vaultwarden:",
        "missing required key 'tag'",
    ),
}


@pytest.mark.parametrize("case", BUILTIN_ERRORS, ids=list(BUILTIN_ERRORS))
def test_a_built_in_catalog_error_names_file_and_key(builtin_copy: Path, case: str) -> None:
    component, change, key, valid = BUILTIN_ERRORS[case]
    path = builtin_copy / component / "component.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as error:
        load_catalog()
    shown = f"templates/components/{component}/component.yaml"
    assert error.value.message.startswith(f"{shown}: {key} ")
    assert valid in error.value.message


def test_the_cli_reports_a_schema_error_in_one_line(tmp_path: Path, scaffold: Scaffold) -> None:
    path = write_component(tmp_path, "widgets", broken("bad enum"))
    run = scaffold("list", "--catalog", tmp_path)
    assert run.exit_code == 2
    assert run.stderr_lines == [
        f"Error: {path}: at applications[0].type: 'helmx' is not one of: helm, manifests"
    ]


# ---------------------------------------------------------------------------------------------
# What only Python checks


PYTHON_ERRORS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "default of the wrong option type": (
        lambda d: d["options"]["size"].update(default="xl"),
        "at options.size.default: 'xl' is not valid: expected one of: s, m",
    ),
    "chart version": (
        lambda d: d["chart"].update(version="latest"),
        "at chart.version: 'latest' is not valid: expected a full version such as 1.2.3",
    ),
    "known versions": (
        lambda d: d["chart"].update(known=["1.0.0", "2.x"]),
        "at chart.known: '2.x' is not valid",
    ),
    "helm without chart": (
        lambda d: d.pop("chart"),
        "at chart: a helm Application needs the component's chart",
    ),
    "when names an unknown option": (
        lambda d: d.update(secrets={"token": {
            "provided": True, "env": "SCAFFOLD_WIDGETS_TOKEN", "description": "a token",
            "when": {"colour": "red"},
        }}),
        "at secrets.token.when.colour: unknown option 'colour'; options: size, version",
    ),
    "when with a value the option refuses": (
        lambda d: d.update(secrets={"token": {
            "provided": True, "env": "SCAFFOLD_WIDGETS_TOKEN", "description": "a token",
            "when": {"size": "xl"},
        }}),
        "at secrets.token.when.size: 'xl' is not valid: expected one of: s, m",
    ),
    "required_when names an unknown option": (
        lambda d: d["options"]["size"].update(required_when={"colour": ["red"]}),
        "at options.size.required_when.colour: unknown option 'colour'; options: size, version",
    ),
    "required_when with a value the option refuses": (
        lambda d: d["options"]["size"].update(required_when={"version": ["newest"]}),
        "at options.size.required_when.version: 'newest' is not valid: expected a full version",
    ),
    "needs an unknown Application": (
        lambda d: d["applications"][0].update(needs=["prometheus"]),
        "at applications[0].needs: unknown Application 'prometheus'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", PYTHON_ERRORS, ids=list(PYTHON_ERRORS))
def test_checks_the_schema_cannot_express(tmp_path: Path, case: str) -> None:
    change, expected = PYTHON_ERRORS[case]
    data = json.loads(json.dumps(GOOD))
    change(data)
    path = write_component(tmp_path, "widgets", data)
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    assert error.value.message.startswith(f"{path}: {expected}")


def provided(env: str, alias: str) -> dict[str, Any]:
    return {"provided": True, "env": env, "alias": alias, "description": "a DNS API token"}


def test_secrets_sharing_an_alias_must_share_the_environment_variable(tmp_path: Path) -> None:
    secret = provided("SCAFFOLD_CF", "cloudflare_api_token")
    data = {**GOOD, "secrets": {"cloudflare_api_token": secret}}
    path = write_component(tmp_path, "widgets", data)
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    message = error.value.message
    assert message.startswith(f"{path}: at secrets.cloudflare_api_token: env SCAFFOLD_CF")
    assert "cert-manager.cloudflare_api_token (env SCAFFOLD_CLOUDFLARE_API_TOKEN" in message


def test_secrets_sharing_an_environment_variable_must_share_the_alias(tmp_path: Path) -> None:
    data = {**GOOD, "secrets": {"token": provided("SCAFFOLD_CLOUDFLARE_API_TOKEN", "cf_token")}}
    write_component(tmp_path, "widgets", data)
    with pytest.raises(CatalogError, match="alias 'cf_token' must match"):
        load_catalog([tmp_path])


def test_a_shared_provided_secret_loads(tmp_path: Path) -> None:
    secret = provided("SCAFFOLD_CLOUDFLARE_API_TOKEN", "cloudflare_api_token")
    write_component(tmp_path, "widgets", {**GOOD, "secrets": {"api_token": secret}})
    catalog = load_catalog([tmp_path])
    (widgets,) = catalog.get("widgets").provided_secrets
    (cert_manager,) = catalog.get("cert-manager").provided_secrets
    assert widgets.shares_value_with(cert_manager) and widgets.when == ()
    assert [p.name for p in catalog.provided_secrets if p.shares_value_with(widgets)] == [
        "cert-manager.cloudflare_api_token",
        "external-dns.cloudflare_api_token",
        "widgets.api_token",
    ]


# ---------------------------------------------------------------------------------------------
# Load time


def test_help_does_not_import_jsonschema() -> None:
    code = (
        "import sys\n"
        "from homelab_scaffold.cli import main\n"
        "sys.argv = ['scaffold', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('jsonschema', 'homelab_scaffold.catalog.loader')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_the_catalog_loads_and_compiles_its_schema_once(tmp_path: Path) -> None:
    from homelab_scaffold.catalog import schema

    write_component(tmp_path, "widgets", GOOD)
    load_catalog([tmp_path])
    compiled = schema._validator(COMPONENT_SCHEMA)
    load_catalog([tmp_path / "widgets" / ".."])
    assert schema._validator(COMPONENT_SCHEMA) is compiled
    assert load_catalog([tmp_path]) is load_catalog([tmp_path])


# ---------------------------------------------------------------------------------------------
# docs/adding-a-component.md: its example is a working component


def doc_block(text: str, starts_with: str) -> str:
    """The fenced code block of ``text`` whose first line starts with ``starts_with``."""
    blocks = [block.split("\n", 1)[1] for block in text.split("```")[1::2]]
    (found,) = [b for b in blocks if b.startswith(starts_with)]
    return found


def test_the_walk_through_example_renders(tmp_path: Path) -> None:
    from homelab_scaffold.generate.answers import parse_answers
    from homelab_scaffold.generate.pipeline import render_answers

    text = (ROOT / "docs" / "adding-a-component.md").read_text()
    folder = tmp_path / "catalog" / "cloudnative-pg"
    (folder / "cloudnative-pg").mkdir(parents=True)
    (folder / "cloudnative-pg-config").mkdir()
    (folder / "component.yaml").write_text(doc_block(text, "description: CloudNativePG"))
    (folder / "cloudnative-pg" / "values.yaml.j2").write_text(doc_block(text, "# CloudNativePG"))
    cluster = doc_block(text, "# cluster.yaml.j2").split("\n", 1)[1]
    (folder / "cloudnative-pg-config" / "cluster.yaml.j2").write_text(cluster)

    answers = parse_answers(
        {
            "repo_url": "https://github.com/alice/homelab.git",
            "secrets": "manual",
            "catalog_paths": ["catalog"],
            "components": {"cloudnative-pg": {"instances": 2}},
        },
        "test",
    )
    catalog = load_catalog([tmp_path / "catalog"])
    files = render_answers(answers, catalog).files
    (cluster_doc,) = yaml.safe_load_all(files["kubernetes/apps/databases/cluster.yaml"])
    assert cluster_doc["spec"]["instances"] == 2
    assert cluster_doc["spec"]["storage"] == {"size": "5Gi", "storageClass": "longhorn"}
    operator = yaml.safe_load(files["kubernetes/system/argocd-config/cloudnative-pg.yaml"])
    assert "ServerSideApply=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    values = yaml.safe_load(files["kubernetes/system/cloudnative-pg/values.yaml"])
    assert values == {"crds": {"create": True}, "config": {"clusterWide": True}}
    component = catalog.get("cloudnative-pg")
    assert component.chart is not None and component.chart.crd_groups == ("postgresql.cnpg.io",)
