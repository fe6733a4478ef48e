"""The files a generated repository gets for its own checks: renovate.json, the CI workflow,
the pre-commit and yamllint settings.

renovate.json is read here the way Renovate reads it: ``managerFilePatterns`` and the other
pattern options are RE2 regexes when written ``/.../`` (``!`` negates, a trailing ``i`` ignores
case) and minimatch globs (dot files included, case ignored) otherwise; the argocd manager takes
every chart of an Application's ``source``/``sources`` (an OCI chart as the Docker package
``registry/path/chart``, a git source as a git-tags dependency); the kubernetes manager reads
``image:`` lines of files that have ``apiVersion:`` and ``kind:``; a regex custom manager
matches each of its ``matchStrings`` against the whole file, with no multiline mode.
Renovate's schema comes from its npm package: ``.ci/fetch-renovate-schema.sh`` puts it into
``.ci/cache/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_URL, Generated, generate, git, invoke, write_config, yaml_documents

from homelab_scaffold import __version__
from homelab_scaffold.commands.validate import validate_command

ROOT = Path(__file__).resolve().parents[1]
RENOVATE_SCHEMA = ROOT / ".ci" / "cache" / "renovate-schema.json"
CI_FILES = (
    "renovate.json",
    ".github/workflows/validate.yaml",
    ".pre-commit-config.yaml",
    ".yamllint",
)
APPLICATIONS = "kubernetes/system/argocd-config/"
ANSWERS = "scaffold.yaml"
# Generic chart instances, one from an HTTP repository and one from an OCI registry.
INSTANCES = f"""\
repo_url: {REPO_URL}
components:
  traefik: {{}}
  grafana:
    from: helm-app
    repo: https://grafana.github.io/helm-charts
    chart: grafana
    version: 8.5.0
    needs: [traefik]
  podinfo:
    from: helm-app
    repo: oci://ghcr.io/stefanprodan/charts
    chart: podinfo
    version: 6.7.1
"""


@pytest.fixture(scope="module")
def stacks(
    all_stacks: dict[str, Generated], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Generated]:
    """The full stack, every example, and a stack of generic chart instances (OCI included)."""
    base = tmp_path_factory.mktemp("instances")
    config = write_config(base / "instances.yaml", INSTANCES)
    return {**all_stacks, "helm-app instances": generate(base / "repo", "--config", config)}


# ---------------------------------------------------------------------------------------------
# Renovate's pattern matching


def _glob_regex(pattern: str, *, nocase: bool = True) -> re.Pattern[str]:
    """A minimatch glob (``dot: true``) as a regex; only the glob features used here."""
    if any(token in pattern for token in ("{", "[", "(", "!")):
        raise NotImplementedError(f"glob {pattern!r}: braces, classes and extglobs not handled")
    parts = []
    for index, segment in enumerate(pattern.split("/")):
        last = index == len(pattern.split("/")) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
            continue
        body = "".join(
            "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment
        )
        parts.append(body if last else body + "/")
    return re.compile("".join(parts) + r"\Z", re.IGNORECASE if nocase else 0)


def js_regex(source: str) -> str:
    """An RE2/JavaScript regex source as Python ``re`` source (named groups differ)."""
    unsupported = ("(?=", "(?!", "(?<=", "(?<!", r"\k<")
    assert not any(token in source for token in unsupported), f"not RE2: {source}"
    assert not re.search(r"\\[1-9]", source), f"backreferences are not RE2: {source}"
    return re.sub(r"\(\?<([A-Za-z]\w*)>", r"(?P<\1>", source)


def pattern_matches(value: str, pattern: str) -> bool:
    """Renovate's ``matchRegexOrGlob``: ``/regex/`` (``!`` negates, ``i`` flag) or a glob."""
    if pattern == "*":
        return True
    found = re.fullmatch(r"(!?)/(.*)/(i?)", pattern, re.DOTALL)
    if found:
        negate, source, flag = found.groups()
        hit = re.search(js_regex(source), value, re.IGNORECASE if flag else 0) is not None
        return hit != bool(negate)
    return _glob_regex(pattern).match(value) is not None


def pattern_list_matches(value: str, patterns: Iterable[str]) -> bool:
    """Renovate's ``matchRegexOrGlobList``: one positive pattern and every negative one."""
    patterns = list(patterns)
    positive = [p for p in patterns if not p.startswith("!")]
    negative = [p for p in patterns if p.startswith("!")]
    if not patterns or (positive and not any(pattern_matches(value, p) for p in positive)):
        return False
    return all(pattern_matches(value, p) for p in negative)


def manager_files(
    config: Mapping[str, Any], patterns: Iterable[str], files: Iterable[str]
) -> set[str]:
    """The files a manager reads: ``ignorePaths`` filtered out, then any pattern matches."""
    ignored = config.get("ignorePaths", [])
    kept = [
        f
        for f in files
        if not any(p in f or _glob_regex(p, nocase=False).match(f) for p in ignored)
    ]
    return {f for f in kept for p in patterns if pattern_matches(f, p)}


# ---------------------------------------------------------------------------------------------
# What Renovate's managers extract


@dataclass(frozen=True)
class Dep:
    """One extracted dependency (the fields the test compares)."""

    manager: str
    file: str
    datasource: str
    name: str
    version: str
    registry: str = ""

    @property
    def package(self) -> tuple[str, str, str, str]:
        """What identifies the update: datasource, name, registry, current version."""
        return (self.datasource, self.name, self.registry.rstrip("/"), self.version)


def _is_oci(repo_url: str) -> bool:
    return repo_url.startswith("oci://") or "://" not in repo_url


def argocd_deps(path: str, text: str) -> list[Dep]:
    """The argocd manager: each source of each Application (charts and git sources)."""
    if not re.search(r"apiVersion:\s*'?\"?argoproj.io/", text):
        return []
    deps = []
    for doc in yaml_documents(text):
        if doc.get("kind") != "Application":
            continue
        spec = doc.get("spec") or {}
        sources = [spec["source"]] if spec.get("source") else []
        for source in [*sources, *(spec.get("sources") or [])]:
            deps.append(_source_dep(path, source))
    return deps


def _source_dep(path: str, source: Mapping[str, Any]) -> Dep:
    repo, version = str(source["repoURL"]), str(source["targetRevision"])
    chart = source.get("chart")
    if chart and _is_oci(repo):
        name = f"{repo.removeprefix('oci://').rstrip('/')}/{chart}"
        return Dep("argocd", path, "docker", name, version)
    if chart:
        return Dep("argocd", path, "helm", str(chart), version, repo)
    return Dep("argocd", path, "git-tags", repo, version)


def custom_deps(config: Mapping[str, Any], path: str, text: str) -> list[list[Dep]]:
    """Each regex custom manager's dependencies in ``path`` (one list per manager)."""
    found = []
    for manager in config["customManagers"]:
        assert manager["customType"] == "regex"
        if not any(pattern_matches(path, p) for p in manager["managerFilePatterns"]):
            continue
        found.append([
            Dep(
                "custom.regex",
                path,
                manager["datasourceTemplate"],
                manager["depNameTemplate"],
                match.group("currentValue"),
                manager.get("registryUrlTemplate", ""),
            )
            for source in manager["matchStrings"]
            for match in re.finditer(js_regex(source), text)
        ])
    return found


# Renovate's kubernetes manager reads lines like `image: registry/name:tag` (a list item too).
IMAGE_LINE = re.compile(r"^\s*-?\s*image:\s*['\"]?([^'\"\s#]+)['\"]?\s*(?:#.*)?$")


def kubernetes_images(text: str) -> list[str]:
    """The images the kubernetes manager sees in a file (none unless it looks like Kubernetes)."""
    if not (re.search(r"\s*apiVersion\s*:", text) and re.search(r"\s*kind\s*:", text)):
        return []
    return [m.group(1) for line in text.splitlines() if (m := IMAGE_LINE.match(line))]


def manifest_images(text: str) -> list[str]:
    """Every ``image`` value of the Kubernetes objects in a YAML file (parsed, not by line)."""

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return [
        image
        for doc in yaml_documents(text)
        if "apiVersion" in doc and "kind" in doc
        for image in walk(doc)
    ]


def rule_matches(rule: Mapping[str, Any], dep: Dep) -> bool:
    """Whether a packageRule's conditions (all of them) hold for ``dep``."""
    conditions = {
        "matchFileNames": lambda patterns: pattern_list_matches(dep.file, patterns),
        "matchDepNames": lambda patterns: pattern_list_matches(dep.name, patterns),
        "matchPackageNames": lambda patterns: pattern_list_matches(dep.name, patterns),
        "matchManagers": lambda names: dep.manager in names,
        "matchDatasources": lambda names: dep.datasource in names,
    }
    used = [key for key in rule if key.startswith("match")]
    unknown = sorted(set(used) - set(conditions))
    assert not unknown, f"this test cannot evaluate {unknown} yet"
    return all(conditions[key](rule[key]) for key in used)


# ---------------------------------------------------------------------------------------------
# Reading a generated repository


def renovate_config(generated: Generated) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((generated.root / "renovate.json").read_text())
    return config


def tracked(generated: Generated) -> dict[str, str]:
    """The files Git (and so Renovate) sees: everything but the gitignored secrets/."""
    return generated.tree(secrets=False)


def chart_deps(generated: Generated) -> list[Dep]:
    """The charts of every Application, as the argocd manager extracts them."""
    return [
        dep
        for path, text in tracked(generated).items()
        if path.startswith(APPLICATIONS)
        for dep in argocd_deps(path, text)
        if dep.datasource != "git-tags"
    ]


# ---------------------------------------------------------------------------------------------
# The files exist


def test_every_generated_repository_has_the_check_files(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        missing = [f for f in CI_FILES if not (generated.root / f).is_file()]
        assert not missing, f"{name}: no {', '.join(missing)}"


def test_every_example_golden_tree_has_the_check_files() -> None:
    for example in sorted((ROOT / "examples").glob("*/repo")):
        missing = [f for f in CI_FILES if not (example / f).is_file()]
        assert not missing, f"{example}: no {', '.join(missing)} (run --update-goldens)"


# ---------------------------------------------------------------------------------------------
# renovate.json


def _schema() -> dict[str, Any]:
    if not RENOVATE_SCHEMA.is_file():
        pytest.skip(
            f"Renovate's JSON schema is not in {RENOVATE_SCHEMA.relative_to(ROOT)}; "
            "run .ci/fetch-renovate-schema.sh (needs npm) to fetch it"
        )
    schema: dict[str, Any] = json.loads(RENOVATE_SCHEMA.read_text(encoding="utf-8"))
    return schema


def _unknown_keys(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Keys the schema does not define where they are used (it allows any key itself).

    Options without a parent restriction are valid inside packageRules too, as in Renovate.
    """
    top = set(schema["properties"]) | {"$schema"}
    definitions = schema["definitions"]

    def properties(name: str) -> set[str]:
        return set(definitions[name]["items"]["allOf"][0]["properties"])

    unknown = [f"{k}" for k in config if k not in top]
    for manager in ("argocd", "kubernetes"):
        allowed = properties(manager)
        unknown += [f"{manager}.{k}" for k in config.get(manager, {}) if k not in allowed]
    allowed = properties("customManagers")
    for item in config.get("customManagers", []):
        unknown += [f"customManagers[].{k}" for k in item if k not in allowed]
    allowed = properties("packageRules") | top
    for item in config.get("packageRules", []):
        unknown += [f"packageRules[].{k}" for k in item if k not in allowed]
    return unknown


def test_renovate_json_is_valid_for_renovate(stacks: dict[str, Generated]) -> None:
    from jsonschema import Draft7Validator

    schema = _schema()
    validator = Draft7Validator(schema)
    for name, generated in stacks.items():
        config = renovate_config(generated)
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(config)
        ]
        assert not errors, f"{name}: {errors[:5]}"
        assert _unknown_keys(config, schema) == [], name


def test_unknown_renovate_options_are_caught() -> None:
    schema = _schema()
    config = {
        "argocd": {"fileMatch": ["x"]},
        "packageRules": [{"matchDepNames": ["x"], "groupName": "g", "groupBy": "x"}],
    }

    assert _unknown_keys(config, schema) == ["argocd.fileMatch", "packageRules[].groupBy"]


def test_argocd_manager_reads_every_chart_application(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        files = tracked(generated)
        read = manager_files(config, config["argocd"]["managerFilePatterns"], files)
        with_charts = {dep.file for dep in chart_deps(generated)}
        assert with_charts, name
        assert with_charts <= read, f"{name}: argocd manager misses {with_charts - read}"
        assert all(p.startswith(APPLICATIONS) for p in read), f"{name}: {sorted(read)}"


def test_kubernetes_manager_reads_every_image(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        files = tracked(generated)
        read = manager_files(config, config["kubernetes"]["managerFilePatterns"], files)
        with_images = {
            path: manifest_images(text)
            for path, text in files.items()
            if path.endswith((".yaml", ".yml")) and manifest_images(text)
        }
        if name != "helm-app instances":
            assert with_images, f"{name}: no manifest with an image to check"
        for path, images in with_images.items():
            assert path in read, f"{name}: kubernetes manager misses {path}"
            assert Counter(kubernetes_images(files[path])) == Counter(images), f"{name}: {path}"


def image_deps(generated: Generated) -> list[Dep]:
    """The tagged images of every manifest, as the kubernetes manager extracts them. (The
    Plans' upgrade image has no tag: the controller adds the K3s version.)"""
    config = renovate_config(generated)
    files = tracked(generated)
    read = manager_files(config, config["kubernetes"]["managerFilePatterns"], files)
    return [
        Dep("kubernetes", path, "docker", *image.rsplit(":", 1))
        for path in sorted(read)
        for image in kubernetes_images(files[path])
        if ":" in image.rsplit("/", 1)[-1]
    ]


def test_custom_managers_extract_exactly_the_pinned_versions(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        answers_text = (generated.root / ANSWERS).read_text(encoding="utf-8")
        per_manager = custom_deps(config, ANSWERS, answers_text)
        assert all(len(deps) == 1 for deps in per_manager), f"{name}: {per_manager}"
        from_answers = [deps[0] for deps in per_manager]
        components = yaml.safe_load(answers_text)["components"]
        pinned = [str(o["version"]) for o in components.values() if o and "version" in o]
        # The K3s release of the system-upgrade-controller Plans is pinned the same way.
        k3s = [
            str(o["k3s_version"]) for o in components.values() if o and "k3s_version" in o
        ]
        # So is the tag of every image a component's manifests run.
        tags = [
            str(value)
            for options in components.values()
            for key, value in (options or {}).items()
            if key.endswith("_image_tag")
        ]

        assert Counter(d.version for d in from_answers) == Counter(pinned + k3s + tags), name
        assert Counter(d.package for d in from_answers) == Counter(
            [d.package for d in chart_deps(generated)]
            + [("github-releases", "k3s-io/k3s", "", version) for version in k3s]
            + [d.package for d in set(image_deps(generated)) if d.version in tags]
        ), name


def test_every_image_scaffold_renders_has_its_tag_in_scaffold_yaml(
    stacks: dict[str, Generated],
) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        answers_text = (generated.root / ANSWERS).read_text(encoding="utf-8")
        pinned = {d.package for deps in custom_deps(config, ANSWERS, answers_text) for d in deps}
        images = image_deps(generated)
        if name != "helm-app instances":
            assert images, f"{name}: no image to check"
        for dep in images:
            assert dep.package in pinned, f"{name}: {dep.file} runs {dep.name}:{dep.version}"


def _groups(config: Mapping[str, Any], dep: Dep) -> set[str]:
    return {
        rule["groupName"]
        for rule in config["packageRules"]
        if "groupName" in rule and rule_matches(rule, dep)
    }


def test_each_image_bump_is_one_group(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        answers_text = (generated.root / ANSWERS).read_text(encoding="utf-8")
        twins = {d.package: d for deps in custom_deps(config, ANSWERS, answers_text) for d in deps}
        for dep in image_deps(generated):
            groups = _groups(config, dep)
            assert len(groups) == 1, f"{name}: {dep.name} in {dep.file} is in groups {groups}"
            assert _groups(config, twins[dep.package]) == groups, f"{name}: {dep.name}"


def test_each_chart_bump_is_one_group(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        answers_text = (generated.root / ANSWERS).read_text(encoding="utf-8")
        twins = {d.package: d for deps in custom_deps(config, ANSWERS, answers_text) for d in deps}
        charts = [twins[dep.package] for dep in chart_deps(generated)]
        for dep in chart_deps(generated):
            groups = {
                rule["groupName"]
                for rule in config["packageRules"]
                if "groupName" in rule and rule_matches(rule, dep)
            }
            twin_groups = {
                rule["groupName"]
                for rule in config["packageRules"]
                if "groupName" in rule and rule_matches(rule, twins[dep.package])
            }
            assert len(groups) == 1, f"{name}: {dep.file} is in groups {groups}"
            assert twin_groups == groups, f"{name}: {dep.name} in scaffold.yaml: {twin_groups}"
        notes = [r for r in config["packageRules"] if "prBodyNotes" in r]
        assert any(
            "scaffold regenerate" in " ".join(r["prBodyNotes"])
            and all(rule_matches(r, t) for t in charts)
            for r in notes
        ), name


def test_own_git_sources_and_the_workflow_are_left_alone(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = renovate_config(generated)
        git_deps = [
            dep
            for path, text in tracked(generated).items()
            if path.startswith(APPLICATIONS)
            for dep in argocd_deps(path, text)
            if dep.datasource == "git-tags"
        ]
        assert git_deps, name
        disabled = [r for r in config["packageRules"] if r.get("enabled") is False]
        for dep in git_deps:
            assert any(rule_matches(r, dep) for r in disabled), f"{name}: {dep}"
        action = Dep("github-actions", ".github/workflows/validate.yaml", "github-tags", "a", "v1")
        assert any(rule_matches(r, action) for r in disabled), name
        chart = chart_deps(generated)[0]
        assert not any(rule_matches(r, chart) for r in disabled), name


# Hand edits of scaffold.yaml the custom managers still read (component -> entry text).
HAND_EDITS = {
    "quoted": '  metallb:\n    version: "0.16.1"\n',
    "single quoted, comment": "  metallb:\n    version: '0.16.1'  # pinned by hand\n",
    "after other options": (
        '  metallb:  # load balancer\n    addresses:\n      - "10.0.0.1-10.0.0.9"\n'
        "\n    # the chart\n    version: 0.16.1\n"
    ),
    "flow": '  metallb: {addresses: ["10.0.0.1-10.0.0.9"], version: 0.16.1}\n',
    "flow, version first": "  metallb: { version: '0.16.1' }\n",
}


@pytest.mark.parametrize("edit", sorted(HAND_EDITS))
def test_custom_manager_reads_hand_edited_entries(
    edit: str, stacks: dict[str, Generated]
) -> None:
    config = renovate_config(stacks["no-input"])
    text = (
        "components:\n  argocd:\n    version: 10.1.1\n"
        + HAND_EDITS[edit]
        + "  traefik:\n    load_balancer_ip: 192.168.1.240\n    version: 41.3.0\n"
    )

    found = {d.name: d.version for deps in custom_deps(config, ANSWERS, text) for d in deps}

    assert found == {"argo-cd": "10.1.1", "metallb": "0.16.1", "traefik": "41.3.0"}


def test_custom_manager_never_reads_the_next_components_version(
    stacks: dict[str, Generated],
) -> None:
    config = renovate_config(stacks["no-input"])
    text = (
        "components:\n  metallb:\n    addresses: [10.0.0.1-10.0.0.9]\n  # next\n"
        "  traefik:\n    version: 41.3.0\n  longhorn: {}\n  cert-manager:\n"
        "    issuer: selfsigned\n"
    )

    found = {d.name: d.version for deps in custom_deps(config, ANSWERS, text) for d in deps}

    assert found == {"traefik": "41.3.0"}


def commit(root: Path, message: str) -> None:
    """Commit everything in ``root`` (a git repository is created the first time)."""
    if not (root / ".git").exists():
        assert git(root, "init", "-q").returncode == 0
    for args in (("add", "-A"), ("-c", "user.name=t", "-c", "user.email=t@example.com",
                                 "commit", "-qm", message)):
        result = git(root, *args)
        assert result.returncode == 0, result.stderr


def test_a_renovate_chart_bump_survives_regenerate(tmp_path: Path) -> None:
    """Renovate changes the version in both files; regenerate then agrees and adds what follows
    the version (README), and a second run changes nothing."""
    answers = f"repo_url: {REPO_URL}\ncomponents:\n  metallb: {{}}\n"
    generated = generate(tmp_path / "repo", "--config", write_config(tmp_path / "a.yaml", answers))
    root = generated.root
    commit(root, "init")
    answers_path = root / ANSWERS
    app_path = root / APPLICATIONS / "metallb.yaml"
    found = custom_deps(renovate_config(generated), ANSWERS, answers_path.read_text())
    (dep,) = [d for deps in found for d in deps if d.name == "metallb"]
    new = "0.16.2"
    # What Renovate does: replace the current value inside each matched string, and commit.
    edits = {
        answers_path: f"version: {dep.version}",
        app_path: f'targetRevision: "{dep.version}"',
    }
    for path, old_text in edits.items():
        content = path.read_text()
        assert content.count(old_text) == 1, path
        path.write_text(content.replace(old_text, old_text.replace(dep.version, new)))
    commit(root, "Update metallb chart")

    first = invoke("regenerate", "-C", root)
    second = invoke("regenerate", "-C", root)

    assert first.exit_code == 0, first.stderr
    assert f'targetRevision: "{new}"' in app_path.read_text()
    assert f"metallb {new}" in (root / "README.md").read_text()
    assert yaml.safe_load(answers_path.read_text())["components"]["metallb"]["version"] == new
    assert second.exit_code == 0 and "Nothing to change" in second.stdout, second.stdout


def renovate_bump(root: Path, renovate: Mapping[str, Any], name: str, new: str) -> str:
    """Bump ``name`` in scaffold.yaml the way Renovate's custom manager does: the current value
    inside the string its pattern matched. Returns the old version."""
    answers = root / ANSWERS
    text = answers.read_text()
    patterns = [
        js_regex(source)
        for manager in renovate["customManagers"]
        if manager["depNameTemplate"] == name
        for source in manager["matchStrings"]
    ]
    match = next(m for p in patterns if (m := re.search(p, text)))
    old = match.group("currentValue")
    bumped = match.group(0)[: match.start("currentValue") - match.start()] + new
    answers.write_text(text[: match.start()] + bumped + text[match.end("currentValue") :])
    return old


def test_a_renovate_image_bump_in_both_files_is_no_drift(tmp_path: Path) -> None:
    answers = f"repo_url: {REPO_URL}\ncomponents:\n  traefik: {{}}\n  test-app: {{}}\n"
    generated = generate(tmp_path / "repo", "--config", write_config(tmp_path / "a.yaml", answers))
    root = generated.root
    commit(root, "init")
    image = "docker.io/nginxinc/nginx-unprivileged"
    old = renovate_bump(root, renovate_config(generated), image, "1.31.0-alpine")
    manifest = root / "kubernetes/system/test-app/test-app.yml"
    commit(root, "Update scaffold.yaml only")

    drift_after_answers = drift(root)
    # The kubernetes manager's half of the same PR: the image line of the manifest.
    text = manifest.read_text()
    assert text.count(f"image: {image}:{old}\n") == 1
    manifest.write_text(text.replace(f"{image}:{old}", f"{image}:1.31.0-alpine"))
    commit(root, "Update nginx image")
    drift_after_both = drift(root)
    regenerate = invoke("regenerate", "-C", root)

    relative = manifest.relative_to(root).as_posix()
    assert drift_after_answers == {relative: "would update"}, drift_after_answers
    assert drift_after_both == {}, drift_after_both
    assert regenerate.exit_code == 0, regenerate.stderr
    assert f"image: {image}:1.31.0-alpine" in manifest.read_text()
    assert drift(root) == {}


def test_a_repository_from_before_image_pins_gets_them_from_regenerate(tmp_path: Path) -> None:
    answers = f"repo_url: {REPO_URL}\ncomponents:\n  traefik: {{}}\n  test-app: {{}}\n"
    generated = generate(tmp_path / "repo", "--config", write_config(tmp_path / "a.yaml", answers))
    root = generated.root
    pinned = root / ANSWERS
    tag = yaml.safe_load(pinned.read_text())["components"]["test-app"]["nginx_image_tag"]
    # What an older scaffold wrote: the entry without the image tag.
    pinned.write_text(pinned.read_text().replace(
        f"  test-app:\n    nginx_image_tag: {tag}\n", "  test-app: {}\n"
    ))
    commit(root, "scaffold.yaml of an older scaffold")
    before = tracked(generated)

    found = drift(root)
    regenerate = invoke("regenerate", "-C", root)
    after = tracked(generated)

    assert found == {ANSWERS: "would add"}
    assert regenerate.exit_code == 0, regenerate.stderr
    assert yaml.safe_load(pinned.read_text())["components"]["test-app"] == {"nginx_image_tag": tag}
    assert {p for p in after if after[p] != before[p]} == {ANSWERS}
    assert drift(root) == {}


def drift(root: Path) -> dict[str, str]:
    """``validate --drift``'s findings: file -> what regenerate would do."""
    run = invoke("validate", "-C", root, "--offline", "--output", "json", "--drift")
    problems = json.loads(run.stdout)["problems"]
    return {
        p["file"]: re.search(r"would (\w+)", p["message"]).group(0)  # type: ignore[union-attr]
        for p in problems
        if p["check"] == "drift"
    }


# ---------------------------------------------------------------------------------------------
# CI workflow, pre-commit, yamllint


def _workflow(generated: Generated) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(
        (generated.root / ".github/workflows/validate.yaml").read_text()
    )
    return data


PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+@(?:[0-9a-f]{40}|v\d+(?:\.\d+){0,2})$")


def test_workflow_pins_actions_and_scaffold(stacks: dict[str, Generated]) -> None:
    validate_flags = {opt for param in validate_command.params for opt in param.opts}
    for name, generated in stacks.items():
        workflow = _workflow(generated)
        # YAML 1.1 reads the key `on` as true.
        assert set(workflow[True]) == {"push", "pull_request"}, name
        steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
        uses = [s["uses"] for s in steps if "uses" in s]
        assert {u.split("@")[0] for u in uses} == {"actions/checkout", "actions/setup-python"}
        assert all(PINNED_ACTION.match(u) for u in uses), uses
        commands = [line.strip() for s in steps for line in s.get("run", "").splitlines()]
        assert f"pip install homelab-scaffold=={__version__}" in commands, name
        lint = commands.index("yamllint .")
        check = next(i for i, c in enumerate(commands) if c.startswith("scaffold validate"))
        assert lint < check, name
        flags = [w for w in commands[check].split()[2:] if w.startswith("-")]
        assert flags == ["--drift", "--charts"] and set(flags) <= validate_flags, commands[check]


def test_pre_commit_runs_yamllint_and_scaffold_pinned(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        config = yaml.safe_load((generated.root / ".pre-commit-config.yaml").read_text())
        repos = {r["repo"]: r for r in config["repos"]}
        yamllint = repos["https://github.com/adrienverge/yamllint"]
        (local,) = repos["local"]["hooks"]
        workflow_pin = next(
            line.split("==")[1]
            for s in next(iter(_workflow(generated)["jobs"].values()))["steps"]
            for line in s.get("run", "").splitlines()
            if "yamllint==" in line
        )

        assert re.fullmatch(r"v\d+\.\d+\.\d+", yamllint["rev"]), name
        assert yamllint["rev"] == f"v{workflow_pin}", "pre-commit and CI run different yamllints"
        assert [h["id"] for h in yamllint["hooks"]] == ["yamllint"]
        assert local["entry"] == "scaffold validate" and local["pass_filenames"] is False
        assert local["additional_dependencies"] == [f"homelab-scaffold=={__version__}"]


def _yamllint(root: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("yamllint", reason="yamllint is in the test extra: pip install '.[test]'")
    return subprocess.run(
        [sys.executable, "-m", "yamllint", "-f", "parsable", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def test_yamllint_passes_on_every_generated_tree(stacks: dict[str, Generated]) -> None:
    for name, generated in stacks.items():
        result = _yamllint(generated.root)

        # Not even a warning: CI shows warnings, and a fresh repository should have none.
        assert result.returncode == 0 and result.stdout == "", f"{name}:\n{result.stdout}"


def test_yamllint_settings_do_catch_problems(stacks: dict[str, Generated], tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".yamllint").write_text((stacks["no-input"].root / ".yamllint").read_text())
    (root / "bad.yaml").write_text("key: value   \nkey: again\n")
    (root / "secrets").mkdir()
    (root / "secrets" / "ignored.yaml").write_text("key: value   \n")

    result = _yamllint(root)

    assert result.returncode == 1
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {"./bad.yaml"}
    assert "trailing-spaces" in result.stdout and "key-duplicates" in result.stdout

