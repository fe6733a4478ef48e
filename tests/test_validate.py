"""scaffold validate: a corpus of small broken repositories, a clean one, generated trees, and
files that must never crash the command (malformed, binary, empty, symlink loops).

Cases that would put secret-looking text or odd files into this project's own git history
(private keys, password hashes, binary files, symlink loops, FIFOs) are built in temporary
folders by the tests instead of being checked in under tests/data/broken-repos/.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO_URL, Generated, generate, git, git_init, pinned
from helm_repo_server import closed_port_url, serve_directory

from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect.validate import ValidateOptions, validate_repo
from homelab_scaffold.inspect.apps import expand_braces, glob_match, normalize_url
from homelab_scaffold.inspect.checks_argocd import wave_problem
from homelab_scaffold.inspect.checks_images import image_problem

CORPUS = Path(__file__).resolve().parent / "data" / "broken-repos"
CLEAN = CORPUS / "_clean"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SCHEMAS = SHARED / "schemas"
LOCAL_SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
needs_shared = pytest.mark.skipif(
    not (SCHEMAS / "argoproj.io").is_dir(), reason="../shared/schemas is not available"
)

# case -> every problem it must produce: (check, file, words in the message). Nothing else may be
# reported, so each case also proves the rest of its small repository is clean.
EXPECTED: dict[str, list[tuple[str, str, str]]] = {
    "yaml-malformed": [("yaml", "manifests/metallb-config/pool.yaml", "YAML does not parse")],
    "missing-kind": [("manifest", "manifests/metallb-config/pool.yaml", "has no kind")],
    "schema-crd-typo": [
        ("schema", "manifests/metallb-config/pool.yaml", "unknown field spec.adresses"),
        ("schema", "manifests/metallb-config/pool.yaml", "missing required field spec.addresses"),
    ],
    "schema-core-typo": [("schema", "manifests/web/deployment.yaml", "'replica' was unexpected")],
    "no-applications": [("argocd", "", "no ArgoCD Application found")],
    "no-root": [("argocd", "", "no root Application")],
    "unreachable-app": [("argocd", "apps/extra/traefik.yaml", "is not reachable from the root")],
    "duplicate-app-name": [("argocd", "apps/metallb.yaml", "'metallb' is already used")],
    "wave-not-string": [("argocd", "apps/metallb-config.yaml", "sync wave 2 is not a string")],
    "wave-not-integer": [("argocd", "apps/metallb-config.yaml", "is not an integer")],
    "crd-same-wave": [("ordering", "apps/metallb-config.yaml", "whose CRD Application 'metallb'")],
    "ingress-before-controller": [
        ("ordering", "apps/web.yaml", "not after the ingress controller Application 'traefik'"),
    ],
    "pvc-before-storage": [("ordering", "apps/web.yaml", "StorageClass 'longhorn'")],
    "chart-unpinned": [("argocd", "apps/metallb.yaml", "'0.16.*' is a wildcard")],
    "git-path-missing": [("argocd", "apps/metallb-config.yaml", "does not exist")],
    "value-file-missing": [
        ("argocd", "apps/metallb.yaml", "value file '$values/values/metallb.yaml' does not exist"),
    ],
    "project-missing": [("argocd", "apps/metallb.yaml", "AppProject 'system', which is not")],
    "project-repo-not-allowed": [
        ("argocd", "apps/metallb.yaml", "metallb.github.io/metallb is not in the sourceRepos"),
    ],
    "project-destination-not-allowed": [
        ("argocd", "apps/metallb.yaml", "namespace 'metallb' is not among the destinations"),
    ],
    "health-check-missing": [("argocd", "apps/argocd.yaml", "no Application health check")],
    "image-latest": [("images", "manifests/web/deployment.yaml", "uses the 'latest' tag")],
    "image-untagged": [("images", "manifests/web/deployment.yaml", "has no tag")],
    "secret-with-data": [("secrets", "manifests/web/secret.yaml", "has values in stringData")],
    "middleware-missing": [
        ("middlewares", "manifests/web/ingress.yaml", "'web-forward-auth@kubernetescrd', but no"),
        ("middlewares", "manifests/web/ingress.yaml", "'strip-prefix' without a provider"),
        ("middlewares", "values/argocd.yaml", "in server.ingress.annotations names Middleware "
         "'argocd-sso@kubernetescrd'"),
    ],
}


def schema_args() -> list[str]:
    """Offline always; the shared schemas when present (then nothing is skipped)."""
    args = ["--offline"]
    if SCHEMAS.is_dir():
        args += ["--schema-location", str(SCHEMAS)]
    # The CRD schemas of the grown catalog (Plan, ServiceMonitor, DNSEndpoint) the shared copy lacks.
    return [*args, "--schema-location", str(LOCAL_SCHEMAS)]


@pytest.fixture
def clean_copy(tmp_path: Path) -> Path:
    """A private copy of the clean repository, to break in one place.

    It gets a Secret with values in its gitignored secrets/ folder, as a scaffold repository has
    (not checked in here: this project's git would honour the case's .gitignore and drop it).
    """
    root = Path(shutil.copytree(CLEAN, tmp_path / "repo"))
    secret = root / "secrets" / "web-admin.yaml"
    secret.parent.mkdir()
    secret.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-admin\n  namespace: web\n"
        "stringData:\n  password: gitignored-so-never-committed\n"
    )
    return root


def problems_of(scaffold, root: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    run = scaffold("validate", "-C", root, "--output", "json", *schema_args(), *extra)
    return run.exit_code, json.loads(run.stdout)["problems"]


def test_every_corpus_case_has_an_expectation():
    cases = {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert cases == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_broken_repository_is_caught_with_its_reason(case, scaffold, tmp_path):
    if case.startswith("schema-crd") and not SCHEMAS.is_dir():
        pytest.skip("../shared/schemas is not available")
    root = shutil.copytree(CORPUS / case, tmp_path / case)

    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    found = sorted((p["check"], p["file"]) for p in problems)
    assert found == sorted((check, file) for check, file, _ in EXPECTED[case])
    for check, file, words in EXPECTED[case]:
        messages = [p["message"] for p in problems if p["check"] == check and p["file"] == file]
        assert any(words in str(m) for m in messages), (words, messages)


def test_clean_repository_passes(scaffold, clean_copy):
    run = scaffold("validate", "-C", clean_copy, *schema_args())

    assert run.exit_code == 0, run.stdout
    assert run.stdout.startswith("No problems found")
    assert "no schema available" not in run.stderr or not SCHEMAS.is_dir()


def test_text_output_names_file_document_and_reason(scaffold, tmp_path):
    root = shutil.copytree(CORPUS / "missing-kind", tmp_path / "repo")

    run = scaffold("validate", "-C", root, *schema_args())

    assert run.exit_code == 1
    assert run.stdout.splitlines()[0] == (
        "manifests/metallb-config/pool.yaml (document 2, ?/lan): has no kind; every Kubernetes "
        "object needs apiVersion, kind and metadata.name [manifest]"
    )
    assert "1 problem found" in run.stderr


def test_json_output_is_complete(scaffold, tmp_path):
    root = shutil.copytree(CORPUS / "image-latest", tmp_path / "repo")

    run = scaffold("validate", "-C", root, "--output", "json", *schema_args())

    data = json.loads(run.stdout)
    assert data["ok"] is False
    assert data["files_checked"] == 5
    assert data["problems"] == [{
        "file": "manifests/web/deployment.yaml",
        "line": None,
        "document": 1,
        "resource": "Deployment/web",
        "check": "images",
        "message": "container 'web': image 'nginxinc/nginx-unprivileged:latest' uses the "
                   "'latest' tag; pin a version tag or a digest",
    }]


def test_sync_options_and_retry_allow_the_same_wave(scaffold, tmp_path):
    root = shutil.copytree(CORPUS / "crd-same-wave", tmp_path / "repo")
    app = root / "apps" / "metallb-config.yaml"
    app.write_text(app.read_text().replace(
        "    automated:\n",
        "    syncOptions:\n      - SkipDryRunOnMissingResource=true\n    retry:\n      limit: 5\n"
        "    automated:\n",
    ))

    assert problems_of(scaffold, root) == (0, [])


@needs_shared
def test_generated_repositories_pass(scaffold, all_stacks: dict[str, Generated]):
    for name, generated in all_stacks.items():
        run = scaffold("validate", "-C", generated.root, "--offline",
                       "--schema-location", SCHEMAS, "--schema-location", LOCAL_SCHEMAS, "--drift")
        assert run.exit_code == 0, f"{name}:\n{run.stdout}"
        assert "no schema available" not in run.stderr, f"{name}: {run.stderr}"


def test_a_removed_forward_auth_middleware_is_reported_where_it_is_named(
    scaffold, rendered_examples: dict[str, Generated], tmp_path
):
    root = Path(shutil.copytree(rendered_examples["observability"].root, tmp_path / "repo"))
    (root / "kubernetes/apps/authelia/middleware.yml").unlink()

    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    assert sorted((p["check"], p["file"], p["resource"]) for p in problems) == [
        ("middlewares", "kubernetes/apps/homepage/ingress.yml", "Ingress/homepage"),
        ("middlewares", "kubernetes/system/kube-prometheus-stack/values.yaml", ""),
        ("middlewares", "kubernetes/system/longhorn-ui/ingress.yaml", "Ingress/longhorn-ui"),
    ]
    assert all("'authelia-forward-auth@kubernetescrd'" in p["message"] for p in problems)


def test_a_middleware_in_another_namespace_is_not_the_one_named(
    scaffold, rendered_examples: dict[str, Generated], tmp_path
):
    root = Path(shutil.copytree(rendered_examples["full-stack"].root, tmp_path / "repo"))
    middleware = root / "kubernetes/apps/authelia/middleware.yml"
    middleware.write_text(middleware.read_text().replace(
        "  namespace: authelia\n", "  namespace: traefik\n"
    ))

    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    assert sorted((p["check"], p["resource"]) for p in problems) == [
        ("middlewares", "Ingress/longhorn-ui"),
        ("middlewares", "Ingress/test-app"),
        ("middlewares", "Ingress/vaultwarden-admin"),
    ]


def drift_of(scaffold, root):
    run = scaffold("validate", "-C", root, "--offline", "--output", "json", "--drift")
    return {p["file"]: p["message"] for p in json.loads(run.stdout)["problems"] if p["check"] == "drift"}


def test_a_hand_edit_that_regenerate_keeps_is_not_drift(scaffold, tmp_path):
    root = generate(tmp_path / "repo", "--no-input", "--set", f"repo_url={REPO_URL}").root
    values = root / "kubernetes" / "system" / "metallb" / "values.yaml"
    values.write_text(values.read_text() + "# tuned by hand\n")

    assert drift_of(scaffold, root) == {}
    assert "Nothing to change" in scaffold("regenerate", "-C", root, "--force").stdout


def test_drift_is_what_regenerate_would_change_and_says_how(scaffold, tmp_path):
    root = generate(tmp_path / "repo", "--no-input", "--set", f"repo_url={REPO_URL}").root
    values = root / "kubernetes" / "system" / "metallb" / "values.yaml"
    values.write_text(values.read_text() + "# tuned by hand\n")
    answers = root / "scaffold.yaml"
    # A Renovate-style bump of scaffold.yaml alone: the Application and values lag behind.
    current = pinned("traefik")
    answers.write_text(answers.read_text().replace(f"version: {current}", "version: 99.0.0"))
    gone = root / "kubernetes" / "system" / "test-app" / "ingress.yml"
    gone_text = gone.read_text()
    state = json.loads((root / ".scaffold/state.json").read_text())
    assert gone_text == state["files"]["kubernetes/system/test-app/ingress.yml"]

    drift = drift_of(scaffold, root)

    assert "would update" in drift["kubernetes/system/argocd-config/traefik.yaml"]
    assert "kubernetes/system/metallb/values.yaml" not in drift  # a kept edit
    assert scaffold("regenerate", "-C", root, "--force").exit_code == 0
    assert drift_of(scaffold, root) == {}


def test_drift_needs_a_scaffold_repository(scaffold, clean_copy):
    run = scaffold("validate", "-C", clean_copy, "--offline", "--drift")

    assert run.exit_code == 2
    assert "--drift needs a scaffold repository" in run.stderr


# --- files that must not crash ------------------------------------------------------------


def test_binary_empty_and_non_utf8_files(scaffold, clean_copy):
    (clean_copy / "manifests" / "web" / "blob.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x01")
    (clean_copy / "manifests" / "web" / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    (clean_copy / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (clean_copy / "manifests" / "web" / "blank.yml").write_text("\n---\n\n")

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert exit_code == 1
    assert sorted((p["file"], p["message"]) for p in problems) == [
        ("manifests/web/blob.yaml", "is a binary file, not YAML text"),
        ("manifests/web/latin1.yaml", "is not UTF-8 (bad byte at offset 9), not YAML text"),
    ]


def test_a_manifest_over_the_size_cap_is_a_problem_like_non_utf8(scaffold, clean_copy):
    big = "# " + "x" * 1022 + "\n"
    (clean_copy / "manifests" / "web" / "huge.yaml").write_text(big * (4 * 1024 + 1))
    (clean_copy / "huge.txt").write_text(big * (4 * 1024 + 1))  # not a manifest: a note

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert exit_code == 1
    assert [(p["file"], p["message"]) for p in problems] == [
        ("manifests/web/huge.yaml", "is larger than 4 MiB, too large to check as YAML"),
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symbolic_links_are_reported_never_followed(scaffold, clean_copy, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nnot: [valid\n")
    (clean_copy / "manifests" / "web" / "loop.yaml").symlink_to("loop.yaml")
    (clean_copy / "manifests" / "web" / "gone.yaml").symlink_to("missing.yaml")
    (clean_copy / "manifests" / "web" / "escape.yaml").symlink_to(outside)
    (clean_copy / "manifests" / "self").symlink_to("..", target_is_directory=True)

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert exit_code == 1
    links = ["manifests/self", *(f"manifests/web/{n}.yaml" for n in ("escape", "gone", "loop"))]
    assert sorted(p["file"] for p in problems) == links
    assert all(p["message"].startswith("is a symbolic link; not followed") for p in problems)


def test_files_deleted_in_the_work_tree_are_not_problems(scaffold, clean_copy):
    (clean_copy / "manifests" / "web" / "service.yaml").unlink()  # still in git's index

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert "manifests/web/service.yaml" not in {p["file"] for p in problems}


def test_unresolved_conflict_markers_are_named_with_their_line(scaffold, clean_copy):
    path = clean_copy / "manifests" / "web" / "service.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:2], "<<<<<<< yours\n", "a: 1\n", "=======\n", "a: 2\n",
                             ">>>>>>> scaffold (new)\n", *lines[2:]]))

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert exit_code == 1
    (marker,) = [p for p in problems if p["file"] == "manifests/web/service.yaml"]
    assert marker["check"] == "conflict" and marker["line"] == 3
    assert "unresolved conflict marker" in marker["message"]


def test_a_folder_with_too_many_files_is_refused_at_once(scaffold, tmp_path, monkeypatch):
    from homelab_scaffold.inspect import loader

    monkeypatch.setattr(loader, "MAX_FILES", 50)
    for index in range(60):
        (tmp_path / f"note-{index}.txt").write_text("x\n")

    run = scaffold("validate", "-C", tmp_path, "--offline")

    assert run.exit_code == 2
    assert "not an App-of-Apps repository" in run.stderr and "more than 50 files" in run.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_not_read(scaffold, clean_copy):
    os.mkfifo(clean_copy / "manifests" / "web" / "pipe.yaml")

    assert problems_of(scaffold, clean_copy) == (0, [])


def test_alias_cycles_deep_nesting_and_odd_yaml(scaffold, clean_copy):
    web = clean_copy / "manifests" / "web"
    (web / "cycle.yaml").write_text("apiVersion: v1\nkind: List\nitems: &a [*a]\n")
    (web / "deep.yaml").write_text("a: " + "[" * 200 + "]" * 200 + "\n")
    (web / "tag.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata: !vault x\n")
    (web / "dupe.yaml").write_text("apiVersion: v1\napiVersion: v2\n")
    (web / "list.yaml").write_text("- a\n- b\n")

    exit_code, problems = problems_of(scaffold, clean_copy)

    assert exit_code == 1
    by_file = {p["file"]: str(p["message"]) for p in problems}
    assert "contains itself through a YAML alias" in by_file["manifests/web/cycle.yaml"]
    assert "nested more than 64 levels" in by_file["manifests/web/deep.yaml"]
    assert "constructor for the tag '!vault'" in by_file["manifests/web/tag.yaml"]
    assert 'duplicate key "apiVersion"' in by_file["manifests/web/dupe.yaml"]
    assert "is a list, not a Kubernetes object" in by_file["manifests/web/list.yaml"]


# --- secrets ------------------------------------------------------------------------------


def test_secret_looking_text_is_reported_without_printing_it(scaffold, clean_copy):
    key = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    argon = "$argon2id$v=19$m=65536,t=3,p=4$" + "c2FsdHNhbHRzYWx0" + "$" + "A" * 43
    (clean_copy / "docs").mkdir()
    (clean_copy / "docs" / "admin.txt").write_text("notes\n" + key)
    (clean_copy / "manifests" / "web" / "users.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: users\n  namespace: web\n"
        f"data:\n  users.yml: |\n    password: \"{argon}\"\n"
    )
    (clean_copy / "tls.key").write_text(key)  # gitignored (*.key): never reported

    run = scaffold("validate", "-C", clean_copy, "--output", "json", *schema_args())

    problems = json.loads(run.stdout)["problems"]
    assert sorted((p["file"], p["line"], p["message"].split(";")[0]) for p in problems) == [
        ("docs/admin.txt", 2, "looks like a private key"),
        ("manifests/web/users.yaml", 8, "looks like an argon2 password hash"),
    ]
    assert "AAAA" not in run.stdout


def test_git_decides_what_is_tracked(scaffold, clean_copy):
    git_init(clean_copy)
    secret = clean_copy / "private" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: web\n"
        "stringData:\n  password: hunter2hunter2\n"
    )
    exclude = clean_copy / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "/private/\n")
    assert git(clean_copy, "add", "-A").returncode == 0

    assert problems_of(scaffold, clean_copy) == (0, [])
    assert (clean_copy / "secrets" / "web-admin.yaml").is_file()  # there, but gitignored


# --- usage and schema locations -----------------------------------------------------------


def test_bad_usage_exits_2(scaffold, clean_copy, tmp_path):
    missing = tmp_path / "nowhere"

    assert scaffold("validate", "-C", missing).exit_code == 2
    assert scaffold("validate", "-C", clean_copy, "--output", "xml").exit_code == 2
    run = scaffold("validate", "-C", clean_copy, "--schema-location", missing)
    assert run.exit_code == 2
    assert f"--schema-location {missing}: no such directory" in run.stderr


def test_offline_without_schemas_says_what_it_skipped(scaffold, clean_copy, tmp_path):
    empty = tmp_path / "no-schemas"
    empty.mkdir()

    run = scaffold("validate", "-C", clean_copy, "--offline", "--schema-location", empty)

    assert run.exit_code == 0, run.stdout
    assert "no schema available for" in run.stderr
    assert "IPAddressPool (metallb.io/v1beta1)" in run.stderr


def test_missing_schema_is_a_problem_when_online(scaffold, clean_copy, tmp_path):
    empty = tmp_path / "no-schemas"
    empty.mkdir()

    run = scaffold("validate", "-C", clean_copy, "--output", "json", "--schema-location", empty)

    assert run.exit_code == 1
    messages = {p["message"] for p in json.loads(run.stdout)["problems"]}
    assert (
        "no JSON schema for IPAddressPool (metallb.io/v1beta1) as "
        f"metallb.io/ipaddresspool_v1beta1.json in {empty}; add one with --schema-location, or "
        "pass --offline to skip it"
    ) in messages


@needs_shared
def test_default_location_fills_the_cache_from_the_catalog(clean_copy, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(SCHEMAS / "metallb.io", catalog / "metallb.io")
    shutil.copytree(SCHEMAS / "argoproj.io", catalog / "argoproj.io")
    shutil.copytree(SCHEMAS / "bitnami.com", catalog / "bitnami.com")
    cache = tmp_path / "cache"
    messages: list[str] = []

    with serve_directory(catalog) as url:
        report = validate_repo(ValidateOptions(
            clean_copy, cache_dir=cache, catalog_url=url, notify=messages.append))

    assert report.ok, report.problems
    assert len(messages) == 1 and str(cache) in messages[0]
    assert (cache / "metallb.io" / "ipaddresspool_v1beta1.json").is_file()
    # A later run needs no network at all.
    offline = validate_repo(ValidateOptions(
        clean_copy, cache_dir=cache, catalog_url=closed_port_url(), offline=True))
    assert offline.ok and offline.notes == ()


def test_unreachable_catalog_is_a_network_error(clean_copy, tmp_path):
    cache = tmp_path / "cache"
    options = ValidateOptions(clean_copy, cache_dir=cache, catalog_url=closed_port_url())

    with pytest.raises(NetworkError, match="pass --offline"):
        validate_repo(options)


# --- small rules --------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "pinned"), [
    ("nginx:1.27.3", True),
    ("registry.local:5000/team/app:2.1", True),
    ("ghcr.io/a/b@sha256:" + "0" * 64, True),
    ("nginx", False),
    ("nginx:latest", False),
    ("registry.local:5000/team/app", False),
])
def test_image_pinning(image, pinned):
    assert (image_problem(image) == "") is pinned


@pytest.mark.parametrize(("value", "words"), [
    ("3", ""), ("-1", ""), (None, ""), (3, "is not a string"), ("soon", "is not an integer"),
])
def test_wave_values(value, words):
    problem = wave_problem(value)
    assert (words in problem) if words else problem == ""


@pytest.mark.parametrize(("revision", "words"), [
    ("1.2.3", ""), ("v1.21.1", ""), ("latest", "follows the newest"),
    ("HEAD", "follows the newest"), ("^1.2.0", "range"), (">=1.0.0 <2.0.0", "range"),
    ("1.x", "wildcard"), ("1.2", "not a version"),
])
def test_chart_revision_pinning(revision, words, tmp_path, scaffold):
    root = shutil.copytree(CORPUS / "chart-unpinned", tmp_path / "repo")
    app = root / "apps" / "metallb.yaml"
    app.write_text(app.read_text().replace('"0.16.*"', f'"{revision}"'))

    exit_code, problems = problems_of(scaffold, root)

    if words:
        assert exit_code == 1 and words in str(problems[0]["message"])
    else:
        assert (exit_code, problems) == (0, [])


def test_url_and_glob_helpers():
    assert normalize_url("https://GitHub.com/me/lab.git/") == normalize_url("git@github.com:me/lab")
    assert normalize_url("ssh://git@host:22/me/lab.git") == "host:22/me/lab"
    assert expand_braces("{a,b}.{yaml,yml}") == ["a.yaml", "a.yml", "b.yaml", "b.yml"]
    assert glob_match("*.yaml", "sub/x.yaml")
    assert not glob_match("{root-app,other}.yaml", "child.yaml")
    assert len(expand_braces("{a,b}" * 20)) == 256


def test_directory_options_decide_the_children(scaffold, tmp_path):
    root = shutil.copytree(CORPUS / "unreachable-app", tmp_path / "repo")
    app = root / "root.yaml"
    app.write_text(app.read_text().replace(
        "    path: apps\n", "    path: apps\n    directory:\n      recurse: true\n"))

    assert problems_of(scaffold, root) == (0, [])

    app.write_text(app.read_text().replace(
        "recurse: true\n", "recurse: true\n      exclude: '{extra/*,nothing}'\n"))
    exit_code, problems = problems_of(scaffold, root)
    assert exit_code == 1
    assert [p["file"] for p in problems] == ["apps/extra/traefik.yaml"]


def test_repository_urls_from_git_origin(scaffold, tmp_path):
    # metallb-config names this repository by a mirror URL; only git's origin says it is this
    # one, and only then is its missing path reported (other repositories are not checked).
    root = Path(shutil.copytree(CORPUS / "git-path-missing", tmp_path / "repo"))
    app = root / "apps" / "metallb-config.yaml"
    app.write_text(app.read_text().replace(
        "https://git.example.com/lab/gitops.git", "https://mirror.example.com/lab/gitops"))

    assert problems_of(scaffold, root) == (0, [])

    git_init(root, origin="git@mirror.example.com:lab/gitops.git")
    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    assert [p["file"] for p in problems] == ["apps/metallb-config.yaml"]
    assert "does not exist in this repository" in str(problems[0]["message"])


def test_kustomize_root_deploys_what_its_kustomization_lists(scaffold, tmp_path):
    root = Path(shutil.copytree(CORPUS / "unreachable-app", tmp_path / "repo"))
    kustomization = root / "apps" / "kustomization.yaml"
    kustomization.write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - metallb.yaml\n  - metallb-config.yaml\n"
    )

    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    assert [(p["file"], p["check"]) for p in problems] == [("apps/extra/traefik.yaml", "argocd")]

    kustomization.write_text(kustomization.read_text() + "  - ./extra/../extra/traefik.yaml\n")
    assert problems_of(scaffold, root) == (0, [])


@pytest.mark.parametrize(
    ("old", "new"),
    [("/secrets/\n", ""), ("/secrets/\n", "/secrets/*\n!/secrets/values.yaml\n")],
    ids=["rule-deleted", "rule-negated"],
)
def test_drift_reports_a_secrets_folder_git_does_not_ignore(scaffold, tmp_path, old, new):
    root = generate(tmp_path / "repo", "--no-input", "--set", f"repo_url={REPO_URL}").root
    git_init(root)
    gitignore = root / ".gitignore"
    assert old in gitignore.read_text()
    gitignore.write_text(gitignore.read_text().replace(old, new))

    run = scaffold("validate", "-C", root, "--offline", "--output", "json", "--drift")

    assert run.exit_code == 1
    problems = json.loads(run.stdout)["problems"]
    found = {(p["file"], p["check"]): p["message"] for p in problems}
    assert "git does not ignore the secrets/ folder" in found[("secrets/", "secrets")]
    assert "would add the rule back" in found[(".gitignore", "drift")]
    # One problem for the folder, not one per key or value it holds.
    assert [p for p in problems if p["file"].startswith("secrets/") and p["file"] != "secrets/"] == []
    assert scaffold("regenerate", "-C", root, "--force").exit_code == 0
    assert git(root, "check-ignore", "-q", "secrets/values.yaml").returncode == 0
    assert drift_of(scaffold, root) == {}


def test_a_non_utf8_helm_value_file_is_reported_once_not_as_missing(scaffold, tmp_path):
    root = generate(tmp_path / "repo", "--no-input", "--set", f"repo_url={REPO_URL}").root
    values = root / "kubernetes" / "system" / "traefik" / "values.yaml"
    values.write_bytes(values.read_bytes() + b"# caf\xe9\n")

    exit_code, problems = problems_of(scaffold, root)

    assert exit_code == 1
    assert [(p["file"], p["message"]) for p in problems] == [
        ("kubernetes/system/traefik/values.yaml",
         f"is not UTF-8 (bad byte at offset {len(values.read_bytes()) - 2}), not YAML text"),
    ]
