"""The CLI habits users bring from kubectl, helm, git and copier, through ``main()``:

"did you mean" for every mistyped name, one ``--set`` syntax, full version pins (with the
releases a partial one could mean, read from a real local Helm repository), downgrades that
ask, coloured diffs only where colour belongs, ``--output json`` that is the only thing on
stdout, ``diff --exit-code``, bare ``scaffold``, and init's summary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    REPO_URL,
    SEALED_ANSWERS,
    SMALL_ANSWERS,
    Run,
    commit_all,
    run_main,
    snapshot,
)
from helm_repo_server import closed_port_url, helm_index, serve_directory

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.suggest import close_matches, did_you_mean, unknown

SMALL = SMALL_ANSWERS
SEALED = SEALED_ANSWERS
ESC = "\x1b["


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run


def one_error(run: Run, code: int = 2) -> str:
    """The one ``Error:`` line of a refused run (nothing else on stderr, nothing on stdout)."""
    assert run.exit_code == code, run
    assert run.stderr_lines and len(run.stderr_lines) == 1, run.stderr
    assert run.stderr_lines[0].startswith("Error: "), run.stderr
    assert "Traceback" not in run.stderr
    return run.stderr_lines[0]


@pytest.fixture
def small(make_committed: Callable[..., Path]) -> Path:
    """traefik + test-app (metallb, argocd added), secrets: manual; committed."""
    return make_committed(SMALL)


@pytest.fixture
def unchanged(small: Path) -> Iterator[None]:
    """The test's commands must leave ``small`` byte for byte and mode for mode as it was."""
    before = snapshot(small)
    yield
    assert snapshot(small) == before


# ---------------------------------------------------------------------------------------------
# Did you mean


def test_close_matches_ignore_case_and_separators_then_prefixes_then_difflib() -> None:
    names = ["cert-manager", "longhorn", "metallb", "regenerate", "remove"]
    assert close_matches("CertManager", names) == ["cert-manager"]
    assert close_matches("cert_manager", names) == ["cert-manager"]
    assert close_matches("regen", names) == ["regenerate"]
    assert close_matches("longhron", names) == ["longhorn"]
    assert close_matches("nextcloud", names) == []
    assert close_matches("longhorn", names) == []  # the name itself is no suggestion
    assert did_you_mean("re", names) == ""  # too short to guess from a prefix
    assert unknown("component", "x", ["b", "a"], listed_as="known") == (
        "unknown component 'x'; known: a, b"
    )


def test_upgrade_a_mistyped_component_suggests_it_and_never_add(small: Path, unchanged: None):
    line = one_error(run_main("upgrade", "trafik", "--version", "41.3.0", "-C", small))
    assert line == "Error: unknown component 'trafik'; did you mean traefik?"


def test_upgrade_certmanager_names_cert_manager(make_committed: Callable[..., Path]) -> None:
    repo = make_committed(SMALL.replace("  test-app: {}\n", "  cert-manager: {}\n"))
    line = one_error(run_main("upgrade", "certmanager", "--version", "v1.21.1", "-C", repo))
    assert line == "Error: unknown component 'certmanager'; did you mean cert-manager?"
    assert "scaffold add" not in line


def test_upgrade_of_a_known_component_not_in_the_repo_says_add_it_first(
    small: Path, unchanged: None
) -> None:
    line = one_error(run_main("upgrade", "longhorn", "--version", "1.12.1", "-C", small))
    assert "add it first with `scaffold add longhorn`" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("add", "longhron"), "unknown component 'longhron'; did you mean longhorn?"),
        (("remove", "--yes", "test-ap"), "unknown component 'test-ap'; did you mean test-app?"),
        (("add", "longhorn", "--set", "replica=1"), "did you mean replicas?"),
        (("add", "cert-manager", "--set", "issuer=letsencrypt-http1"),
         "expected one of: selfsigned, letsencrypt-http01, letsencrypt-cloudflare "
         "(did you mean letsencrypt-http01?)"),
        (("regnerate",), "unknown command 'regnerate'; did you mean regenerate?"),
        (("rm", "test-app"), "unknown command 'rm'; did you mean remove?"),
        (("secret", "sett", "x"), "unknown command 'sett'; did you mean set?"),
        (("regenerate", "--dry-rn"), "unknown option '--dry-rn'; did you mean --dry-run?"),
        (("secret", "set", "test-app.tokn"), "unknown secret 'test-app.tokn'"),
    ],
)
def test_mistyped_names_get_one_line_with_what_was_meant(
    small: Path, unchanged: None, args: tuple[str, ...], expected: str
) -> None:
    run = run_main(*args, *(["-C", small] if args[0] not in ("regnerate", "rm") else []))
    assert expected in one_error(run)


def test_mistyped_setting_and_option_in_init_set(tmp_path: Path) -> None:
    dest = tmp_path / "new"
    line = one_error(run_main("init", dest, "--no-input", "--set", "domian=lab.example.org"))
    assert "unknown setting 'domian'; did you mean domain?" in line
    line = one_error(
        run_main("init", dest, "--no-input", "--set", "components.longhorn.replica=2")
    )
    assert "unknown option 'replica'; did you mean replicas?" in line
    line = one_error(run_main("init", dest, "--no-input", "--set", "components.longhron.x=1"))
    assert "unknown component 'longhron'; did you mean longhorn?" in line
    assert not dest.exists()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("domain: lab.example.com", "domian: lab.example.com", "did you mean domain?"),
        ("  traefik:\n", "  trafik:\n", "did you mean traefik?"),
        ("    version: 41.3.0\n", "    verison: 41.3.0\n", "did you mean version?"),
    ],
)
def test_mistyped_names_in_scaffold_yaml(
    make_committed: Callable[..., Path], old: str, new: str, expected: str
) -> None:
    repo = make_committed(SMALL)
    answers = repo / "scaffold.yaml"
    text = answers.read_text()
    assert text.count(old) == 1, text
    answers.write_text(text.replace(old, new), "utf-8")
    commit_all(repo)
    before = snapshot(repo)
    assert expected in one_error(run_main("regenerate", "-C", repo))
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------------------------
# One --set syntax


def test_add_takes_set_in_both_forms_with_the_same_result(
    make_committed: Callable[..., Path], tmp_path: Path
) -> None:
    short = make_committed(SMALL)
    ok(run_main("add", "longhorn", "--set", "replicas=2", "-C", short))
    full = tmp_path / "full"
    short.rename(tmp_path / "short")
    make_committed(SMALL).rename(full)
    ok(run_main("add", "longhorn", "--set", "components.longhorn.replicas=2", "-C", full))
    answers = yaml.safe_load((full / "scaffold.yaml").read_text())
    assert answers["components"]["longhorn"]["replicas"] == 2
    assert (full / "scaffold.yaml").read_bytes() == (tmp_path / "short/scaffold.yaml").read_bytes()
    values = "kubernetes/system/longhorn/values.yaml"
    assert (full / values).read_bytes() == (tmp_path / "short" / values).read_bytes()


def test_add_refuses_an_option_of_another_component(small: Path, unchanged: None) -> None:
    line = one_error(
        run_main("add", "longhorn", "--set", "components.traefik.version=41.3.0", "-C", small)
    )
    assert "components.traefik.version" in line and "sets longhorn's options only" in line


def test_add_takes_a_secret_value_with_set_and_never_writes_it_to_scaffold_yaml(
    make_committed: Callable[..., Path],
) -> None:
    repo = make_committed(SEALED)
    token = "cf-token-for-the-add-test-0123456789"
    args = ("add", "cert-manager", "--set", "issuer=letsencrypt-cloudflare", "-C", repo)
    before = snapshot(repo)
    line = one_error(run_main(*args, env={"SCAFFOLD_CLOUDFLARE_API_TOKEN": None}))
    assert "pass --set secrets.cloudflare_api_token=VALUE" in line
    assert snapshot(repo) == before

    run = ok(run_main(*args, "--set", f"secrets.cloudflare_api_token={token}"))
    assert token not in run.stdout + run.stderr
    assert token not in (repo / "scaffold.yaml").read_text()
    stored = yaml.safe_load((repo / "secrets/values.yaml").read_text())
    assert stored["cert-manager"]["cloudflare_api_token"] == token
    assert list(repo.glob("kubernetes/**/*cloudflare*.sealedsecret.yaml"))


# ---------------------------------------------------------------------------------------------
# Versions are full pins


@pytest.fixture
def grafana_repo() -> Iterator[str]:
    """A Helm repository on 127.0.0.1 listing grafana 8.4.0 ... 9.0.0 (and a pre-release)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        index = helm_index({"grafana": ["9.0.0", "9.0.0-rc.1", "8.6.0", "8.5.1", "8.5.0", "8.4.0"]})
        Path(folder, "index.yaml").write_text(index, encoding="utf-8")
        with serve_directory(Path(folder)) as url:
            yield url


def with_grafana(make_committed: Callable[..., Path], repository: str) -> Path:
    return make_committed(
        SMALL
        + f"  grafana:\n    from: helm-app\n    repo: {repository}\n    chart: grafana\n"
        "    version: 8.5.0\n"
    )


@pytest.mark.parametrize(
    ("typed", "meant", "not_meant"),
    [
        ("8", "could mean 8.4.0, 8.5.0, 8.5.1, 8.6.0 (newest: 8.6.0)", "9.0.0"),
        ("8.5", "could mean 8.5.0, 8.5.1 (newest: 8.5.1)", "8.6.0"),
        ("v9", "could mean 9.0.0 (newest: 9.0.0)", "rc.1"),
        ("7", "has no 7.x release", "could mean"),
    ],
)
def test_a_partial_version_is_refused_with_the_releases_it_could_mean(
    make_committed: Callable[..., Path], grafana_repo: str, typed: str, meant: str, not_meant: str
) -> None:
    repo = with_grafana(make_committed, grafana_repo)
    before = snapshot(repo)
    line = one_error(run_main("upgrade", "grafana", "--version", typed, "-C", repo))
    assert f"--version {typed!r}: a chart pin is a full version MAJOR.MINOR.PATCH" in line
    assert meant in line and not_meant not in line
    if typed == "7":
        assert "newest release is 9.0.0" in line
    assert snapshot(repo) == before


def test_without_the_index_a_partial_version_is_refused_with_the_rule(
    make_committed: Callable[..., Path],
) -> None:
    repo = with_grafana(make_committed, closed_port_url())
    line = one_error(run_main("upgrade", "grafana", "--version", "8.5", "-C", repo))
    assert "a chart pin is a full version MAJOR.MINOR.PATCH, e.g. 8.5.0" in line
    assert "could not list grafana's versions" in line


def test_offline_states_the_rule_without_reading_the_index(
    make_committed: Callable[..., Path], grafana_repo: str
) -> None:
    repo = with_grafana(make_committed, grafana_repo)
    line = one_error(run_main("upgrade", "grafana", "--version", "8", "--offline", "-C", repo))
    assert line.endswith("a chart pin is a full version MAJOR.MINOR.PATCH, e.g. 8.0.0")


def test_add_refuses_a_partial_version_too(
    small: Path, unchanged: None, grafana_repo: str
) -> None:
    chart = ("--repo", grafana_repo, "--chart", "grafana")
    line = one_error(run_main("add", "helm-app", "grafana", *chart, "--version", "8", "-C", small))
    assert "could mean 8.4.0, 8.5.0, 8.5.1, 8.6.0" in line
    line = one_error(
        run_main("add", "helm-app", "grafana", *chart, "--set", "version=8.5", "-C", small)
    )
    assert "--set version '8.5'" in line and "could mean 8.5.0, 8.5.1" in line


def test_a_partial_version_in_scaffold_yaml_is_refused(make_committed: Callable[..., Path]):
    repo = make_committed(SMALL)
    answers = repo / "scaffold.yaml"
    answers.write_text(answers.read_text().replace("version: 41.3.0", "version: 41"), "utf-8")
    commit_all(repo)
    line = one_error(run_main("regenerate", "-C", repo))
    assert "components.traefik.version" in line and "MAJOR.MINOR.PATCH" in line


def test_a_downgrade_needs_yes_without_a_terminal(small: Path) -> None:
    before = snapshot(small)
    line = one_error(run_main("upgrade", "traefik", "--version", "40.0.0", "--offline", "-C", small))
    assert "traefik 41.3.0 -> 40.0.0 is a downgrade" in line and "pass --yes" in line
    assert snapshot(small) == before
    ok(run_main("upgrade", "traefik", "--version", "40.0.0", "--yes", "--offline", "-C", small))
    assert "version: 40.0.0" in (small / "scaffold.yaml").read_text()
    # Forward again needs no confirmation.
    ok(run_main("upgrade", "traefik", "--version", "41.3.0", "--offline", "-C", small, "--force"))


# ---------------------------------------------------------------------------------------------
# Colours, NO_COLOR, bare scaffold


def edited_domain(repo: Path) -> Path:
    answers = repo / "scaffold.yaml"
    answers.write_text(answers.read_text().replace("lab.example.com", "home.example.org"), "utf-8")
    commit_all(repo)
    return repo


@pytest.mark.parametrize("command", [("diff",), ("regenerate", "--dry-run")])
def test_diffs_are_coloured_on_a_terminal_only(small: Path, command: tuple[str, ...]) -> None:
    repo = edited_domain(small)
    coloured = ok(run_main(*command, "-C", repo, color=True)).stdout
    assert re.search(r"^\x1b\[32m\+.*home\.example\.org", coloured, re.M)  # added: green
    assert re.search(r"^\x1b\[31m-.*lab\.example\.com", coloured, re.M)  # removed: red
    assert re.search(r"^\x1b\[36m@@ ", coloured, re.M)  # hunk header: cyan
    assert not re.search(r"^\x1b\[3[12]m(\+\+\+|---) ", coloured, re.M)  # file names: bold only

    plain = ok(run_main(*command, "-C", repo)).stdout
    assert ESC not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


@pytest.mark.parametrize("value", ["1", "true", "0", "anything"])
def test_no_color_with_any_value_disables_every_colour(small: Path, value: str) -> None:
    repo = edited_domain(small)
    for args in (("diff",), ("regenerate", "--dry-run"), ("add", "longhorn", "--dry-run")):
        run = run_main(*args, "-C", repo, color=True, env={"NO_COLOR": value})
        assert ESC not in run.stdout + run.stderr, args
    # Outside the versions the templates know: a warning, which is coloured on a terminal.
    args = ("upgrade", "traefik", "--version", "27.0.0", "--yes", "--force", "--offline", "-C", repo)
    assert ESC in run_main(*args, color=True).stderr
    ok(run_main("upgrade", "traefik", "--version", "41.3.0", "--force", "--offline", "-C", repo))
    run = run_main(*args, color=True, env={"NO_COLOR": value})
    assert "Warning" in run.stderr and ESC not in run.stdout + run.stderr


def test_an_empty_no_color_keeps_colours(small: Path) -> None:
    repo = edited_domain(small)
    assert ESC in run_main("diff", "-C", repo, color=True, env={"NO_COLOR": ""}).stdout


def test_bare_scaffold_prints_the_help_and_exits_0() -> None:
    run = run_main()
    assert run.exit_code == 0 and run.stderr == ""
    assert run.stdout.startswith("Usage: scaffold") and "Commands:" in run.stdout
    group = run_main("secret")
    assert group.exit_code == 0 and "Usage: scaffold secret" in group.stdout


# ---------------------------------------------------------------------------------------------
# --output json and diff --exit-code


def json_of(run: Run) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(run.stdout)


def test_list_says_what_each_component_deploys_as_its_component_yaml_does() -> None:
    lines = ok(run_main("list")).stdout.splitlines()
    catalog = load_catalog()
    for name, component in catalog.components.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}: ")]
        deploys, applications = lines[index + 1], lines[index + 2]
        helm = any(app.type == "helm" for app in component.applications)
        assert ("raw manifests" in deploys) is not helm, (name, deploys)
        assert ("namespace the instance's name" in deploys) is component.generic, deploys
        assert ("one per instance" in applications) is component.generic, applications
    helm_app = lines[lines.index(next(x for x in lines if x.startswith("helm-app: "))) + 1]
    assert helm_app.startswith("    the Helm chart each instance names;"), helm_app


def test_list_json_describes_the_catalog() -> None:
    data = json_of(ok(run_main("list", "--output", "json")))
    catalog = load_catalog()
    assert [c["name"] for c in data["components"]] == list(catalog.components)
    cert = next(c for c in data["components"] if c["name"] == "cert-manager")
    assert cert["chart"] == {
        "repo": "https://charts.jetstack.io", "name": "cert-manager", "version": "v1.21.1"
    }
    issuer = next(o for o in cert["options"] if o["name"] == "issuer")
    assert issuer["choices"] == ["selfsigned", "letsencrypt-http01", "letsencrypt-cloudflare"]
    assert next(c for c in data["components"] if c["name"] == "helm-app")["generic"] is True


def test_add_json_is_the_outcome_and_nothing_else(small: Path) -> None:
    run = ok(run_main("add", "vaultwarden", "--output", "json", "-C", small))
    data = json_of(run)
    assert data["written"] is True and data["dry_run"] is False
    assert "kubernetes/system/argocd-config/vaultwarden.yaml" in data["files"]["create"]
    assert "scaffold.yaml" in data["files"]["update"]
    added = {a["name"]: a["reason"] for a in data["added_components"]}
    assert added["vaultwarden"] == "requested"
    assert added["longhorn"] == "needed by vaultwarden"
    assert data["conflicts"] == [] and data["kept_data"] == []
    values = yaml.safe_load((small / "secrets/values.yaml").read_text())
    token = values["vaultwarden"]["admin_token"]
    assert token not in run.stdout + run.stderr
    assert "vaultwarden admin_token" in run.stderr  # the notice goes to stderr


def test_dry_run_json_writes_nothing(small: Path, unchanged: None) -> None:
    data = json_of(ok(run_main("add", "longhorn", "--dry-run", "--output", "json", "-C", small)))
    assert data["dry_run"] is True and data["written"] is False and data["changed"] is True
    assert "kubernetes/system/longhorn/values.yaml" in data["files"]["create"]


def test_remove_json_lists_deleted_files_and_kept_data(make_committed: Callable[..., Path]):
    repo = make_committed(SMALL.replace("  test-app: {}\n", "  vaultwarden: {}\n"))
    data = json_of(ok(run_main("remove", "vaultwarden", "--yes", "--output", "json", "-C", repo)))
    assert "kubernetes/system/argocd-config/vaultwarden.yaml" in data["files"]["delete"]
    assert data["removed_components"] == ["vaultwarden"]
    (kept,) = data["kept_data"]
    assert kept["kind"] == "PersistentVolumeClaim" and kept["name"] == "vaultwarden-data"
    assert kept["delete_command"].startswith("kubectl -n vaultwarden delete pvc")


def test_upgrade_json_notes_the_moved_keys(small: Path) -> None:
    run = ok(run_main("upgrade", "traefik", "--version", "33.0.0", "--yes", "--offline", "--output", "json",
                      "-C", small))
    data = json_of(run)
    assert data["files"]["update"] == sorted(data["files"]["update"])
    assert "kubernetes/system/traefik/values.yaml" in data["files"]["update"]
    assert any("keys moved" in note for note in data["notes"])


def test_conflicts_are_in_the_json_and_exit_4(small: Path) -> None:
    values = small / "kubernetes/system/traefik/values.yaml"
    values.write_text(values.read_text().replace("level: INFO", "level: DEBUG"), "utf-8")
    commit_all(small)
    run = run_main("upgrade", "traefik", "--version", "33.0.0", "--yes", "--offline", "--output", "json",
                   "-C", small)
    assert run.exit_code == 4, run
    data = json_of(run)
    assert data["conflicts"] == ["kubernetes/system/traefik/values.yaml"]
    assert one_error(run, 4).startswith("Error: conflicts in")


def test_secret_list_json_never_holds_a_value(make_committed: Callable[..., Path]) -> None:
    repo = make_committed(SEALED)
    run = ok(run_main("secret", "list", "--output", "json", "-C", repo))
    (row,) = json_of(run)["secrets"]
    assert row["name"] == "vaultwarden.admin_token" and row["origin"] == "generated"
    assert row["has_value"] is True
    assert row["carried_by"][0]["kind"] == "SealedSecret"
    values = yaml.safe_load((repo / "secrets/values.yaml").read_text())
    assert values["vaultwarden"]["admin_token"] not in run.stdout


def test_diff_exit_code_is_1_with_differences_like_git(small: Path) -> None:
    assert ok(run_main("diff", "--exit-code", "-C", small)).stdout.startswith("No changes")
    repo = edited_domain(small)
    run = run_main("diff", "--exit-code", "-C", repo)
    assert run.exit_code == 1 and run.stderr == ""
    assert "+++ " in run.stdout
    assert ok(run_main("diff", "-C", repo)).stdout == run.stdout


# ---------------------------------------------------------------------------------------------
# init's summary


def test_init_ends_with_a_summary_instead_of_a_line_per_file(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(f"repo_url: {REPO_URL}\ncomponents:\n  vaultwarden: {{}}\n", "utf-8")
    dest = tmp_path / "homelab"
    run = ok(run_main("init", dest, "--config", config))
    files = [p for p in dest.rglob("*") if p.is_file() and p.name != "state.json"]
    lines = run.stdout.splitlines()
    assert lines[0] == f"Wrote {len(files)} files to {dest} (-v lists them)."
    assert not re.search(r"^\s+create\s", run.stdout, re.M)
    assert lines[1] == (
        "Components (7): argocd, cert-manager, longhorn, metallb, sealed-secrets, traefik, "
        "vaultwarden"
    )
    assert "sealed-secrets (for vaultwarden)" in lines[2]
    waves = lines[lines.index("Sync waves:") + 1 :]
    # longhorn-ui (the Longhorn UI's Ingress) shares vaultwarden's wave.
    assert waves[0] == "  0  argocd" and "  5  longhorn-ui, vaultwarden" in waves
    assert "sealing key in secrets/sealing-key/" in run.stdout
    assert re.search(r"^Next: commit and push .*`scaffold bootstrap -C .*`", run.stdout, re.M)
    secret = yaml.safe_load((dest / "secrets/values.yaml").read_text())["vaultwarden"]
    assert secret["admin_token"] not in run.stdout + run.stderr


def test_init_verbose_lists_every_file(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(f"repo_url: {REPO_URL}\nsecrets: manual\ncomponents:\n  traefik: {{}}\n")
    dest = tmp_path / "homelab"
    run = ok(run_main("init", dest, "--config", config, "-v"))
    for path in dest.rglob("*"):
        relative = path.relative_to(dest).as_posix()
        if path.is_file() and relative != ".scaffold/state.json":
            assert re.search(rf"^\s+create\s+{re.escape(relative)}$", run.stdout, re.M), relative
    assert "Sync waves:" in run.stdout
