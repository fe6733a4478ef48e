"""``scaffold init`` through the CLI: bad input, selection, repo URL, secrets, the CLI contract.

Every bad input must exit 2 with exactly one line on stderr that names the bad value and what is
valid, and must leave the disk exactly as it was (checked byte for byte, modes included).
"""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    REPO_URL,
    Generated,
    Run,
    generate,
    git,
    git_init,
    read_tree,
    snapshot,
    without_randomness,
    write_config,
    yaml_documents,
)

from homelab_scaffold.generate.answers import PLACEHOLDER_REPO_URL
from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.cli import main
from homelab_scaffold.catalog.options import check_ip_ranges

Scaffold = Callable[..., Run]


@dataclass(frozen=True)
class Bad:
    """A bad input: an answers file (or none) plus extra arguments, and what the error says."""

    config: str | None
    args: tuple[str, ...]
    expect: tuple[str, ...]


def _components(body: str) -> str:
    return "components:\n" + body


BAD_INPUTS = {
    "invalid IP range": Bad(
        _components("  metallb:\n    addresses: ['192.168.1.300-192.168.1.310']\n"),
        (),
        ("192.168.1.300-192.168.1.310", "such as 192.168.1.240-192.168.1.250"),
    ),
    "invalid CIDR prefix": Bad(
        _components("  metallb:\n    addresses: ['10.0.0.0/33']\n"),
        (),
        ("10.0.0.0/33", "CIDR such as"),
    ),
    "CIDR with host bits": Bad(
        _components("  metallb:\n    addresses: ['192.168.1.10/24']\n"),
        (),
        ("192.168.1.10/24", "CIDR such as"),
    ),
    "reversed range": Bad(
        _components("  metallb:\n    addresses: ['192.168.1.250-192.168.1.240']\n"),
        (),
        ("192.168.1.250-192.168.1.240", "end must not come before the start"),
    ),
    "empty address list": Bad(
        _components("  metallb:\n    addresses: []\n"), (), ("addresses", "such as")
    ),
    "bad domain": Bad(
        "domain: not_a_domain\n" + _components("  traefik: {}\n"),
        (),
        ("not_a_domain", "such as lab.example.com"),
    ),
    "single-label domain": Bad(
        "domain: localhost\n" + _components("  traefik: {}\n"),
        (),
        ("localhost", "such as lab.example.com"),
    ),
    "bad email": Bad(
        "email: alice-at-example\n" + _components("  traefik: {}\n"),
        (),
        ("alice-at-example", "such as admin@example.com"),
    ),
    "bad repo url": Bad(
        "repo_url: github.com/alice/homelab\n" + _components("  traefik: {}\n"),
        (),
        ("github.com/alice/homelab", "such as https://"),
    ),
    "unknown component": Bad(
        _components("  nextcloud: {}\n"), (), ("nextcloud", "known components", "traefik")
    ),
    "unknown option": Bad(
        _components("  traefik:\n    colour: blue\n"), (), ("colour", "valid", "log_level")
    ),
    "unknown top-level key": Bad(
        "domian: lab.example.com\n" + _components("  traefik: {}\n"),
        (),
        ("domian", "did you mean domain?"),
    ),
    "malformed YAML": Bad(_components("  traefik: {\n"), (), ("not valid YAML", "line ")),
    "duplicate keys": Bad(
        "domain: a.example.com\ndomain: b.example.com\n" + _components("  traefik: {}\n"),
        (),
        ("duplicate key", "domain"),
    ),
    "tab indentation": Bad("components:\n\ttraefik: {}\n", (), ("not valid YAML", "line 2")),
    "empty config file": Bad("", (), ("empty", "mapping")),
    "only a comment": Bad("# nothing here\n", (), ("empty", "mapping")),
    "list at the top level": Bad("- traefik\n- metallb\n", (), ("mapping",)),
    "list where the components mapping belongs": Bad(
        "components:\n  - traefik\n", (), ("components", "mapping")
    ),
    "list where a component's options belong": Bad(
        _components("  metallb:\n    - 10.0.0.1-10.0.0.9\n"), (), ("components.metallb", "mapping")
    ),
    "version that is not a version": Bad(
        _components("  cert-manager:\n    version: latest\n"),
        (),
        ("latest", "version such as 1.2.3"),
    ),
    "number out of range": Bad(
        _components("  longhorn:\n    replicas: 0\n"), (), ("replicas", ">= 1")
    ),
    "choice not offered": Bad(
        _components("  cert-manager:\n    issuer: vault\n"),
        (),
        ("vault", "selfsigned", "letsencrypt-cloudflare"),
    ),
    "bad --set syntax": Bad(None, ("--no-input", "--set", "domain"), ("domain", "KEY=VALUE")),
    "--set without a key": Bad(None, ("--no-input", "--set", "=x"), ("KEY=VALUE",)),
    "--set of an unknown setting": Bad(
        None, ("--no-input", "--set", "colour=blue"), ("colour", "valid", "domain")
    ),
    "--set of a bad domain": Bad(
        None, ("--no-input", "--set", "domain=Lab_Example"), ("Lab_Example", "lab.example.com")
    ),
    "--set of a reversed range": Bad(
        None,
        ("--no-input", "--set", "components.metallb.addresses=10.0.0.9-10.0.0.1"),
        ("10.0.0.9-10.0.0.1", "end must not come before the start"),
    ),
    "--set of a version that is not a version": Bad(
        None,
        ("--no-input", "--set", "components.cert-manager.version=stable"),
        ("stable", "version such as"),
    ),
    "--set of an unknown component": Bad(
        None,
        ("--no-input", "--set", "components.nextcloud.size=1"),
        ("nextcloud", "known components"),
    ),
    "prompting without a terminal": Bad(None, (), ("terminal", "--no-input", "--config")),
}


def _arguments(tmp_path: Path, dest: Path, bad: Bad) -> list[object]:
    args: list[object] = ["init", dest, *bad.args]
    if bad.config is not None:
        args += ["--config", write_config(tmp_path / "answers.yaml", bad.config)]
    return args


def assert_one_line_error(run: Run, *fragments: str) -> None:
    """Exit code 2, nothing on stdout, one ``Error:`` line on stderr holding every fragment."""
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run.stderr
    line = run.stderr_lines[0]
    assert line.startswith("Error: ")
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"


@pytest.fixture(params=["missing", "missing parents", "empty", "empty git repo"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A destination init may use: missing (with or without parents), empty, or a bare repo."""
    kind = request.param
    if kind == "missing":
        return tmp_path / "homelab"
    if kind == "missing parents":
        return tmp_path / "a" / "b" / "homelab"
    path = tmp_path / "homelab"
    path.mkdir()
    if kind == "empty git repo":
        git_init(path, origin=REPO_URL)
    return path


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    case: str, dest: Path, tmp_path: Path, scaffold: Scaffold
) -> None:
    bad = BAD_INPUTS[case]
    args = _arguments(tmp_path, dest, bad)
    before = snapshot(tmp_path)
    run = scaffold(*args)
    assert_one_line_error(run, *bad.expect)
    assert snapshot(tmp_path) == before


def test_missing_config_file(tmp_path: Path, scaffold: Scaffold) -> None:
    before = snapshot(tmp_path)
    run = scaffold("init", tmp_path / "homelab", "--config", tmp_path / "nope.yaml")
    assert_one_line_error(run, "nope.yaml", "no such file")
    assert snapshot(tmp_path) == before


def test_non_empty_destination_needs_force(tmp_path: Path, scaffold: Scaffold) -> None:
    dest = tmp_path / "homelab"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    run = scaffold("init", dest, "--no-input")
    assert_one_line_error(run, str(dest), "not empty", "notes.txt", "--force")
    assert snapshot(tmp_path) == before


def test_destination_that_is_a_file(tmp_path: Path, scaffold: Scaffold) -> None:
    dest = tmp_path / "homelab"
    dest.write_text("not a folder\n")
    before = snapshot(tmp_path)
    run = scaffold("init", dest, "--no-input")
    assert_one_line_error(run, str(dest), "is a file", "folder")
    assert snapshot(tmp_path) == before


def test_tab_error_says_to_indent_with_spaces(tmp_path: Path, scaffold: Scaffold) -> None:
    config = write_config(tmp_path / "answers.yaml", "components:\n\ttraefik: {}\n")
    run = scaffold("init", tmp_path / "homelab", "--config", config)
    assert_one_line_error(run, "line 2", "spaces")


def test_a_version_read_as_a_number_is_not_silently_changed(
    tmp_path: Path, scaffold: Scaffold
) -> None:
    config = write_config(
        tmp_path / "answers.yaml", _components("  cert-manager:\n    version: 1.10\n")
    )
    run = scaffold("init", tmp_path / "homelab", "--config", config)
    if run.exit_code == 2:
        assert_one_line_error(run, "1.10")
        return
    app = (tmp_path / "homelab/kubernetes/system/argocd-config/cert-manager.yaml").read_text()
    assert yaml.safe_load(app)["spec"]["sources"][0]["targetRevision"] == "1.10"


def test_invalid_load_balancer_ip_is_bad_input(tmp_path: Path, scaffold: Scaffold) -> None:
    config = write_config(
        tmp_path / "answers.yaml", _components("  traefik:\n    load_balancer_ip: not-an-ip\n")
    )
    before = snapshot(tmp_path)
    run = scaffold("init", tmp_path / "homelab", "--config", config)
    assert_one_line_error(run, "not-an-ip")
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------------------------------------
# The installed `scaffold` executable and main(): the same contract outside CliRunner

SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")


@pytest.mark.skipif(not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed")
@pytest.mark.parametrize("case", ["invalid IP range", "malformed YAML", "unknown component"])
def test_installed_executable_reports_bad_input_in_one_line(case: str, tmp_path: Path) -> None:
    bad = BAD_INPUTS[case]
    dest = tmp_path / "homelab"
    args = [str(a) for a in _arguments(tmp_path, dest, bad)]
    before = snapshot(tmp_path)
    result = subprocess.run(
        [str(SCAFFOLD_EXE), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert_one_line_error(Run(result.returncode, result.stdout, result.stderr), *bad.expect)
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed")
def test_installed_executable_refuses_to_prompt_without_a_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SCAFFOLD_EXE), "init", str(tmp_path / "homelab")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert_one_line_error(Run(result.returncode, result.stdout, result.stderr), "--no-input")
    assert list(tmp_path.iterdir()) == []


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Run:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return Run(code if isinstance(code, int) else 1, captured.out, captured.err)


def test_main_reports_bad_input_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "answers.yaml", _components("  nextcloud: {}\n"))
    run = _run_main(["init", str(tmp_path / "homelab"), "--config", str(config)], capsys)
    assert_one_line_error(run, "nextcloud")
    assert not (tmp_path / "homelab").exists()


def test_main_turns_a_crash_into_one_line_and_a_traceback_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import homelab_scaffold.generate.pipeline as pipeline_module

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))
    monkeypatch.setattr(pipeline_module, "render_plan", crash)
    dest = tmp_path / "homelab"
    run = _run_main(["init", str(dest), "--no-input"], capsys)
    assert run.exit_code == 3
    assert len(run.stderr_lines) == 1, run.stderr
    assert "RuntimeError: boom" in run.stderr and "--debug" in run.stderr
    assert "Traceback" not in run.stderr
    (log,) = logs.iterdir()
    assert str(log) in run.stderr
    assert "RuntimeError: boom" in log.read_text()
    assert not dest.exists()


def test_main_with_debug_lets_the_traceback_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import homelab_scaffold.generate.pipeline as pipeline_module

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline_module, "render_plan", crash)
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "init", str(tmp_path / "homelab"), "--no-input"])


def test_main_reports_ctrl_c_as_aborted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import homelab_scaffold.generate.pipeline as pipeline_module

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline_module, "render_plan", interrupt)
    run = _run_main(["init", str(tmp_path / "homelab"), "--no-input"], capsys)
    assert run.exit_code == 130
    assert run.stderr_lines == ["Aborted."]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# --no-input, --set and the repo URL


def _default_stack() -> set[str]:
    return {name for name, c in load_catalog().components.items() if c.in_default_stack}


def _application_files(root: Path) -> set[str]:
    folder = root / "kubernetes/system/argocd-config"
    return {p.stem for p in folder.glob("*.yaml")} - {"root-app", "projects"}


def test_no_input_renders_the_full_default_stack(full_stack: Generated) -> None:
    catalog = load_catalog()
    selected = set(full_stack.answers()["components"])
    assert selected == _default_stack()
    assert {
        "argocd",
        "metallb",
        "traefik",
        "longhorn",
        "cert-manager",
        "authelia",
        "vaultwarden",
        "test-app",
    } <= selected
    apps = {app for name in selected for app in catalog.components[name].app_names}
    assert _application_files(full_stack.root) == apps
    written = [p for p in full_stack.tree(secrets=True) if p != ".scaffold/state.json"]
    assert f"Wrote {len(written)} files to {full_stack.root}" in full_stack.run.stdout
    assert "Next: " in full_stack.run.stdout


def test_set_overrides_land_in_the_output(tmp_path: Path) -> None:
    generated = generate(
        tmp_path / "homelab",
        "--no-input",
        "--set",
        "domain=lab.example.org",
        "--set",
        "components.metallb.addresses=10.0.20.200-10.0.20.240, 10.0.30.0/28",
        "--set",
        f"repo_url={REPO_URL}",
    )
    answers = generated.answers()
    assert answers["domain"] == "lab.example.org"
    assert check_ip_ranges(answers["components"]["metallb"]["addresses"]) == [
        "10.0.20.200-10.0.20.240",
        "10.0.30.0/28",
    ]
    pool_file = generated.root / "kubernetes/system/metallb-config/ipaddresspool.yaml"
    (pool,) = [d for d in yaml_documents(pool_file.read_text()) if d["kind"] == "IPAddressPool"]
    assert pool["spec"]["addresses"] == ["10.0.20.200-10.0.20.240", "10.0.30.0/28"]
    hosts = [
        rule["host"]
        for path in sorted(generated.root.rglob("ingress.yml"))
        for doc in yaml_documents(path.read_text())
        for rule in doc["spec"]["rules"]
    ]
    assert hosts and all(h.endswith(".lab.example.org") for h in hosts), hosts
    tree = generated.tree(secrets=True)
    assert not [p for p, text in tree.items() if "lab.example.com" in text]
    assert not [p for p, text in tree.items() if "192.168.1.240" in text]


def test_set_values_are_recorded_with_their_option_type(tmp_path: Path) -> None:
    generated = generate(
        tmp_path / "homelab",
        "--no-input",
        "--set",
        "components.metallb.addresses=10.0.20.200-10.0.20.240",
        "--set",
        "components.longhorn.replicas=2",
        "--set",
        "components.traefik.access_logs=yes",
    )
    components = generated.answers()["components"]
    assert components["metallb"]["addresses"] == ["10.0.20.200-10.0.20.240"]
    assert components["longhorn"]["replicas"] == 2
    assert components["traefik"]["access_logs"] is True


def _repo_urls(root: Path) -> set[str]:
    urls = set()
    for path in sorted((root / "kubernetes/system/argocd-config").glob("*.yaml")):
        for doc in yaml_documents(path.read_text()):
            if doc["kind"] != "Application":
                continue
            sources = doc["spec"].get("sources") or [doc["spec"]["source"]]
            urls |= {s["repoURL"] for s in sources if "chart" not in s}
    return urls


def test_repo_url_comes_from_the_git_origin(tmp_path: Path) -> None:
    origin = "git@github.com:alice/homelab-infrastructure.git"
    dest = git_init(tmp_path / "homelab", origin=origin)
    generated = generate(dest, "--no-input")
    assert generated.answers()["repo_url"] == origin
    assert _repo_urls(dest) == {origin}
    assert "placeholder" not in generated.run.stderr
    assert PLACEHOLDER_REPO_URL not in "".join(generated.tree().values())


def test_explicit_repo_url_wins_over_the_git_origin(tmp_path: Path) -> None:
    dest = git_init(tmp_path / "homelab", origin="https://example.invalid/other.git")
    generate(dest, "--no-input", "--set", f"repo_url={REPO_URL}")
    assert _repo_urls(dest) == {REPO_URL}


def test_without_origin_the_repo_url_is_a_marked_placeholder(tmp_path: Path) -> None:
    for dest in (tmp_path / "plain", git_init(tmp_path / "no-origin")):
        generated = generate(dest, "--no-input")
        answers_text = (dest / "scaffold.yaml").read_text()
        assert generated.answers()["repo_url"] == PLACEHOLDER_REPO_URL
        assert re.search(
            rf"^repo_url: {re.escape(PLACEHOLDER_REPO_URL)}\s+#.*CHANGE ME", answers_text, re.M
        )
        assert _repo_urls(dest) == {PLACEHOLDER_REPO_URL}
        warnings = [line for line in generated.run.stderr_lines if "repo_url" in line]
        assert len(warnings) == 1
        assert "placeholder" in warnings[0] and str(dest / "scaffold.yaml") in warnings[0]


# ---------------------------------------------------------------------------------------------
# Selection: exactly what was asked for plus what it needs, and no trace of the rest


def test_config_selects_exactly_the_listed_components_and_their_needs(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "components": {"traefik": {}, "test-app": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    assert set(generated.answers()["components"]) == {"argocd", "metallb", "traefik", "test-app"}
    assert _application_files(generated.root) == {
        "argocd",
        "metallb",
        "metallb-config",
        "traefik",
        "test-app",
    }


def _added_lines(stdout: str) -> dict[str, str]:
    """init's summary line ``added because others need them: a (for b, c), ...``."""
    line = re.search(r"^  added because others need them: (.+)$", stdout, re.M)
    found = re.finditer(r"(\S+) \(for ([^)]+)\)", line.group(1) if line else "")
    return {m.group(1): m.group(2) for m in found}


def test_vaultwarden_alone_adds_what_it_needs_and_says_so(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "secrets": "manual", "components": {"vaultwarden": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    added = {"traefik", "metallb", "cert-manager", "longhorn"}
    assert set(generated.answers()["components"]) == {"argocd", "vaultwarden", *added}
    lines = _added_lines(generated.run.stdout)
    assert set(lines) == added, generated.run.stdout
    assert "vaultwarden" in lines["traefik"] and "vaultwarden" in lines["longhorn"]
    assert "vaultwarden" in lines["cert-manager"]
    assert "traefik" in lines["metallb"]


def test_with_sealed_secrets_vaultwarden_also_adds_the_controller(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "secrets": "sealed-secrets", "components": {"vaultwarden": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    lines = _added_lines(generated.run.stdout)
    assert set(lines) == {"traefik", "metallb", "cert-manager", "longhorn", "sealed-secrets"}
    assert "vaultwarden" in lines["sealed-secrets"]


SELECTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "traefik + test-app": {"traefik": {}, "test-app": {}},
    "vaultwarden alone": {"vaultwarden": {}},
    "longhorn alone": {"longhorn": {}},
    "cert-manager alone": {"cert-manager": {}},
    "authelia alone": {"authelia": {}},
}
NO_TRACE_CASES = [
    "traefik + test-app",
    "vaultwarden alone",
    "longhorn alone",
    pytest.param(
        "cert-manager alone",
    ),
    pytest.param(
        "authelia alone",
    ),
]
# Namespaces other components mention for their own reasons (cert-manager's chart default).
SHARED_NAMESPACES = {"kube-system", "default"}


def _traces(component: str) -> set[str]:
    found = load_catalog().components[component]
    marks = {component, *found.app_names}
    marks |= {ns for ns in {found.namespace, *(a.namespace for a in found.applications)}}
    if found.chart is not None:
        marks.add(found.chart.repo)
    return marks - SHARED_NAMESPACES


@pytest.fixture(scope="module")
def selections(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    base = tmp_path_factory.mktemp("selections")
    rendered = {}
    for index, (name, components) in enumerate(SELECTIONS.items()):
        config = write_config(
            base / f"{index}.yaml", {"repo_url": REPO_URL, "components": components}
        )
        rendered[name] = generate(base / str(index), "--config", config)
    return rendered


def _unselected(generated: Generated) -> list[str]:
    selected = set(generated.answers()["components"])
    # Generic components (helm-app, manifests-app) are templates for your own apps, never
    # "selected" themselves; the README documents them as commands.
    return sorted(
        n for n, c in load_catalog().components.items() if n not in selected and not c.generic
    )


# Random material (key PEM bodies, generated passwords, argon2 salts, sealed
# ciphertext) is long base64 runs; "loki" turns up in one now and then by chance.
RANDOM_RUN = re.compile(r"[A-Za-z0-9+/=]{16,}")


def _files_without_readme(generated: Generated) -> dict[str, str]:
    tree = generated.tree(secrets=True)
    tree.pop("README.md")
    state = yaml.safe_load(tree.pop(".scaffold/state.json"))
    tree.update({f"state:{p}": t for p, t in state["files"].items() if p != "README.md"})
    return {path: RANDOM_RUN.sub("", text) for path, text in tree.items()}


@pytest.mark.parametrize("selection", NO_TRACE_CASES)
def test_unselected_components_leave_no_trace(
    selection: str, selections: dict[str, Generated]
) -> None:
    generated = selections[selection]
    tree = _files_without_readme(generated)
    found = [
        f"{mark!r} in {path}"
        for component in _unselected(generated)
        for mark in sorted(_traces(component))
        for path, text in tree.items()
        if mark.lower() in text.lower()
    ]
    assert found == []


@pytest.mark.parametrize("selection", ["traefik + test-app"])
def test_unselected_components_leave_no_trace_in_the_readme(
    selection: str, selections: dict[str, Generated]
) -> None:
    generated = selections[selection]
    readme = (generated.root / "README.md").read_text().lower()
    found = [c for c in _unselected(generated) if c in readme]
    assert found == []


# ---------------------------------------------------------------------------------------------
# Secrets: generated, private, gitignored, never in a tracked file


ARGON2_HASH = re.compile(r"\$argon2id\$v=\d+\$[^\s\"']+")


@pytest.fixture(scope="module", params=["manual", "sealed-secrets"])
def in_git_repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generated:
    """The full stack rendered into a real git repository (origin set), in each secrets mode."""
    dest = git_init(tmp_path_factory.mktemp("git") / "homelab", origin=REPO_URL)
    return generate(dest, "--no-input", "--set", f"secrets={request.param}")


def _secret_values(root: Path) -> list[str]:
    data = yaml.safe_load((root / "secrets/values.yaml").read_text())
    return [value for values in data.values() for value in values.values()]


def test_secret_values_appear_only_under_secrets(in_git_repo: Generated) -> None:
    values = _secret_values(in_git_repo.root)
    assert values and all(len(v) >= 16 for v in values)
    secret_files = in_git_repo.tree(secrets=True)
    hashes = ARGON2_HASH.findall(
        "".join(t for p, t in secret_files.items() if p.startswith("secrets/"))
    )
    if in_git_repo.answers()["secrets"] == "manual":
        assert hashes, "the Authelia users database should hold an argon2id hash"
    tracked = in_git_repo.tree(secrets=False)
    leaks = [(p, s[:6]) for s in [*values, *hashes] for p, t in tracked.items() if s in t]
    assert leaks == []
    assert not [p for p, t in tracked.items() if ARGON2_HASH.search(t)]
    assert not [p for p, t in tracked.items() if "PRIVATE KEY" in t]


def test_secret_files_are_private(in_git_repo: Generated) -> None:
    secrets_dir = in_git_repo.root / "secrets"
    paths = [secrets_dir, *secrets_dir.rglob("*")]
    assert len(paths) > 2
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_git_ignores_exactly_the_secrets(in_git_repo: Generated) -> None:
    root = in_git_repo.root
    secret_paths = sorted(p for p in in_git_repo.tree(secrets=True) if p.startswith("secrets/"))
    assert secret_paths
    for path in secret_paths:
        assert git(root, "check-ignore", "-q", path).returncode == 0, path
    assert git(root, "add", "-A").returncode == 0
    tracked = set(git(root, "ls-files").stdout.split())
    assert tracked == set(in_git_repo.tree(secrets=False))


def test_announced_secrets_are_not_printed_when_stdout_is_not_a_terminal(
    in_git_repo: Generated,
) -> None:
    values = yaml.safe_load((in_git_repo.root / "secrets/values.yaml").read_text())
    output = in_git_repo.run.stdout + in_git_repo.run.stderr
    for component in values.values():
        for value in component.values():
            assert value not in output
    assert "authelia admin_password: generated and stored in secrets/values.yaml" in output


def test_force_over_a_generated_repo_announces_no_secret_it_did_not_store(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "homelab"
    generate(dest, "--no-input")
    again = generate(dest, "--no-input", "--force")
    stored = _secret_values(dest)
    announced = re.findall(r"^\S+ \S+: (\S+)\s+\(shown once", again.run.stdout, re.M)
    assert all(value in stored for value in announced), (announced, stored)


# ---------------------------------------------------------------------------------------------
# --force and --dry-run


def test_force_keeps_existing_files_and_adds_the_rest(tmp_path: Path, scaffold: Scaffold) -> None:
    dest = tmp_path / "homelab"
    dest.mkdir()
    (dest / ".yamllint").write_text("extends: relaxed\n")
    run = scaffold("init", dest, "--no-input", "--force", "--set", f"repo_url={REPO_URL}")
    assert run.exit_code == 0, run.stderr
    assert (dest / ".yamllint").read_text() == "extends: relaxed\n"
    assert re.search(r"^\s*keep\s+\.yamllint", run.stdout, re.M)
    assert (dest / "kubernetes/system/argocd-config/root-app.yaml").is_file()


def test_dry_run_writes_nothing(tmp_path: Path, scaffold: Scaffold) -> None:
    dest = tmp_path / "homelab"
    run = scaffold("init", dest, "--no-input", "--dry-run", "-v")
    assert run.exit_code == 0, run.stderr
    assert re.search(r"would create\s+kubernetes/system/argocd-config/root-app.yaml", run.stdout)
    assert re.search(r"^Would write \d+ files to .*nothing written", run.stdout, re.M)
    assert "shown once" not in run.stdout
    assert not dest.exists()


def comparable(tree: dict[str, str]) -> dict[str, str]:
    return {path: without_randomness(path, text) for path, text in tree.items()}


def test_init_output_reads_back_as_the_same_tree(full_stack: Generated, tmp_path: Path) -> None:
    """scaffold.yaml written by init is a complete answers file: --config of it renders the same."""
    again = generate(tmp_path / "again", "--config", full_stack.root / "scaffold.yaml")
    assert comparable(read_tree(again.root)) == comparable(full_stack.tree())
