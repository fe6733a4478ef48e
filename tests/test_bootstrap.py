"""`scaffold bootstrap` against stub kubectl and helm executables and a real git "remote".

The stubs (Python scripts written into tmp_path/bin, the only folder on PATH besides a link to
the real git) record every call as a JSON line and answer like the real tools: `kubectl version`
fails when the test makes the cluster unreachable, `kubectl apply -f PATH` fails for a missing
file, `kubectl get applications.argoproj.io -o json` answers a scripted sequence of lists, and
helm fails when asked to. repo_url is an https URL that git's `url.<base>.insteadOf` maps to a
bare repository in tmp_path, so `git ls-remote` really reads a remote.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from conftest import Run, git, invoke, read_tree

from homelab_scaffold import ui
from homelab_scaffold.cluster import health
from homelab_scaffold.cluster.bootstrap import ChildApp
from homelab_scaffold.cluster.pushed import Target, check_pushed
from homelab_scaffold.cluster.health import (
    AppStatus,
    Expected,
    Poll,
    WaveReady,
    parse_applications,
    watch_waves,
)
from homelab_scaffold.errors import WaitTimeout

REPO_URL = "https://git.test.invalid/alice/homelab.git"
REPO_TOKEN = "glpat-BootstrapTestToken0123456789"
CREDENTIALS = ["kubectl", "apply", "-f", "secrets/argocd/"]
ARGOCD_APP = "kubernetes/system/argocd-config/argocd.yaml"
ROOT_APP = "kubernetes/system/argocd-config/root-app.yaml"

STUB = r'''#!{python}
import json, os, pathlib, sys

name = pathlib.Path(sys.argv[0]).name
args = sys.argv[1:]
state = pathlib.Path(os.environ["STUB_STATE"])
stdin = sys.stdin.read() if args[-2:] == ["-f", "-"] else None
with open(state / "calls.jsonl", "a") as log:
    log.write(json.dumps({"argv": [name, *args], "stdin": stdin}) + "\n")

def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)

if name == "helm":
    if (state / "helm-fails").exists():
        fail("Error: INSTALLATION FAILED: context deadline exceeded")
    print('Release "argocd" has been upgraded. Happy Helming!')
    sys.exit(0)

# kubectl: drop the global --context flag, as kubectl does before reading the verb.
if args[:1] == ["--context"]:
    args = args[2:]
if args[:1] == ["version"]:
    if (state / "unreachable").exists():
        fail("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?")
    print("Client Version: v1.33.0\nServer Version: v1.33.0+k3s1")
elif args[:2] == ["create", "namespace"]:
    print(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {args[2]}")
elif args[:1] == ["apply"]:
    paths = [args[i + 1] for i, a in enumerate(args) if a == "-f" and args[i + 1] != "-"]
    for path in paths:
        if not pathlib.Path(path).exists():
            fail(f'error: the path "{path}" does not exist')
    print("\n".join(f"{p} configured" for p in paths) or "namespace configured")
elif args[:1] == ["get"]:
    answers = json.loads((state / "applications.json").read_text())
    counter = state / "get-count"
    count = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(count + 1))
    print(json.dumps(answers[min(count, len(answers) - 1)]))
else:
    fail(f"stub kubectl: unexpected arguments {args}")
'''


@dataclass(frozen=True)
class Cluster:
    """The stub tools, their state folder, the repository and its bare remote."""

    repo: Path
    remote: Path
    bin: Path
    state: Path
    env: dict[str, str]

    def run(self, *args: object) -> Run:
        """``scaffold bootstrap -C REPO ARGS`` with only the stubs and git on PATH."""
        return invoke("bootstrap", "-C", self.repo, *args, env=self.env)

    def calls(self) -> list[list[str]]:
        """Every recorded call's argv, program name first."""
        return [entry["argv"] for entry in self._entries()]

    def stdin_of(self, *argv: str) -> list[str]:
        """What the calls with exactly this argv read on standard input."""
        return [e["stdin"] for e in self._entries() if e["argv"] == list(argv)]

    def _entries(self) -> list[dict[str, Any]]:
        log = self.state / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def answer_applications(self, *answers: dict[str, Any]) -> None:
        """Script what successive `kubectl get applications` calls print (the last repeats)."""
        (self.state / "applications.json").write_text(json.dumps(list(answers)))

    def commit(self, message: str) -> None:
        """Commit everything in the work tree."""
        assert git(self.repo, "add", "-A").returncode == 0
        done = git(self.repo, "-c", "user.name=t", "-c", "user.email=t@example.com",
                   "commit", "-q", "-m", message)  # fmt: skip
        assert done.returncode == 0, done.stderr

    def push(self) -> None:
        """Push HEAD to the remote's main branch."""
        done = git(self.repo, "push", "-q", str(self.remote), "HEAD:main")
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sealed and a manual-secrets repository, rendered once for the module."""
    base = tmp_path_factory.mktemp("bootstrap-src")
    trees = {}
    private = ("--set", "repo_auth=https")
    for name, extra in (
        ("sealed", ()),
        ("manual", ("--set", "secrets=manual")),
        ("private", private),
        ("private-manual", (*private, "--set", "secrets=manual")),
    ):
        # The token in the environment would make a repository private (repo_auth: https).
        env = {"SCAFFOLD_REPO_TOKEN": REPO_TOKEN} if name.startswith("private") else None
        run = invoke("init", base / name, "--no-input", "--set", f"repo_url={REPO_URL}", *extra,
                     env=env)  # fmt: skip
        assert run.exit_code == 0, run.stderr
        trees[name] = base / name
    return trees


def make_cluster(tmp_path: Path, source: Path) -> Cluster:
    """The repository (committed and pushed), the stubs on PATH, git's URL mapping."""
    repo = tmp_path / "homelab"
    shutil.copytree(source, repo)
    remote = tmp_path / "remote.git"
    assert git(tmp_path, "init", "-q", "--bare", str(remote)).returncode == 0
    assert git(repo, "init", "-q").returncode == 0
    assert git(repo, "remote", "add", "origin", REPO_URL).returncode == 0
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in ("kubectl", "helm"):
        stub = bin_dir / tool
        stub.write_text(STUB.replace("{python}", sys.executable))
        stub.chmod(0o755)
    real_git = shutil.which("git")
    assert real_git is not None
    (bin_dir / "git").symlink_to(real_git)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "{remote}"]\n\tinsteadOf = {REPO_URL}\n')
    env = {
        "PATH": str(bin_dir),
        "STUB_STATE": str(state),
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    cluster = Cluster(repo, remote, bin_dir, state, env)
    cluster.commit("homelab")
    cluster.push()
    return cluster


def cluster_of(kind: str) -> Any:
    """A fixture: a Cluster around a copy of the ``rendered[kind]`` repository."""

    @pytest.fixture
    def cluster(tmp_path: Path, rendered: dict[str, Path]) -> Cluster:
        return make_cluster(tmp_path, rendered[kind])

    return cluster


sealed = cluster_of("sealed")
manual = cluster_of("manual")
private = cluster_of("private")  # sealed, Argo CD reads it with a token (repo_auth: https)
private_manual = cluster_of("private-manual")


def argocd_source(repo: Path) -> dict[str, Any]:
    """The chart source of the argocd Application in the repository."""
    app = yaml.safe_load((repo / ARGOCD_APP).read_text())
    return next(s for s in app["spec"]["sources"] if "chart" in s)


def expected_helm(repo: Path, *context: str) -> list[str]:
    """The helm command the Application in the repository calls for."""
    chart = argocd_source(repo)
    values = chart["helm"]["valueFiles"][0].removeprefix("$values/")
    return [
        "helm", "upgrade", "--install", chart["helm"]["releaseName"], chart["chart"],
        "--repo", chart["repoURL"], "--version", chart["targetRevision"],
        "--namespace", "argocd", "--create-namespace", "--values", values,
        "--wait", "--timeout", "10m", *context,
    ]  # fmt: skip


def changing(calls: Sequence[Sequence[str]]) -> list[list[str]]:
    """The calls that change the cluster (not the read-only checks and polls)."""
    return [list(c) for c in calls if c[0] == "helm" or ("apply" in c or "create" in c)]


# ---------------------------------------------------------------------------------------------
# What it runs, in which order


def test_dry_run_prints_exactly_the_commands_and_runs_none(sealed: Cluster) -> None:
    run = sealed.run("--dry-run")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        " ".join(expected_helm(sealed.repo)),
        "kubectl apply -f secrets/sealing-key.yaml",
        f"kubectl apply -f {ROOT_APP}",
    ]
    assert sealed.calls() == []


def test_dry_run_quotes_for_the_shell(sealed: Cluster) -> None:
    run = sealed.run("--dry-run", "--context", "my lab")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"kubectl --context 'my lab' apply -f {ROOT_APP}"
    assert sealed.calls() == []


def test_helm_then_sealing_key_then_root_application(sealed: Cluster) -> None:
    run = sealed.run()
    assert run.exit_code == 0, run.stderr
    assert changing(sealed.calls()) == [
        expected_helm(sealed.repo),
        ["kubectl", "apply", "-f", "secrets/sealing-key.yaml"],
        ["kubectl", "apply", "-f", ROOT_APP],
    ]
    # The cluster is asked before anything changes.
    assert sealed.calls()[0][:2] == ["kubectl", "version"]
    assert "[3/3] Apply the root Application" in run.stdout


def test_the_helm_install_follows_the_argocd_application_in_the_repository(
    sealed: Cluster,
) -> None:
    path = sealed.repo / ARGOCD_APP
    text = path.read_text()
    chart = argocd_source(sealed.repo)
    path.write_text(
        text.replace(f'targetRevision: "{chart["targetRevision"]}"', 'targetRevision: "9.9.9"')
        .replace('releaseName: "argocd"', 'releaseName: "gitops"')
    )
    run = sealed.run("--dry-run")
    assert run.exit_code == 0, run.stderr
    helm = run.stdout.splitlines()[0].split()
    assert helm[3:5] == ["gitops", "argo-cd"]
    assert helm[helm.index("--version") + 1] == "9.9.9"


def test_an_oci_chart_is_installed_from_its_registry(sealed: Cluster) -> None:
    path = sealed.repo / ARGOCD_APP
    repo = argocd_source(sealed.repo)["repoURL"]
    path.write_text(path.read_text().replace(f'"{repo}"', '"oci://ghcr.io/argoproj/argo-helm"'))
    helm = sealed.run("--dry-run").stdout.splitlines()[0].split()
    assert helm[4] == "oci://ghcr.io/argoproj/argo-helm/argo-cd"
    assert "--repo" not in helm


def test_a_value_file_outside_the_repository_is_refused(sealed: Cluster) -> None:
    path = sealed.repo / ARGOCD_APP
    path.write_text(path.read_text().replace('"$values/kubernetes/', '"kubernetes/'))
    run = sealed.run("--dry-run")
    assert_refused(run, f"{ARGOCD_APP}: value file", "is not in this repository")


def test_a_second_run_succeeds_and_runs_the_same_commands(sealed: Cluster) -> None:
    first = sealed.run()
    calls = changing(sealed.calls())
    second = sealed.run()
    assert (first.exit_code, second.exit_code) == (0, 0), second.stderr
    assert changing(sealed.calls()) == calls + calls


def test_context_reaches_every_kubectl_and_helm_call(sealed: Cluster) -> None:
    sealed.answer_applications(applications(sealed.repo, ready=True))
    run = sealed.run("--context", "lab", "--wait")
    assert run.exit_code == 0, run.stderr
    calls = sealed.calls()
    assert {c[0] for c in calls} == {"kubectl", "helm"}
    for call in calls:
        if call[0] == "kubectl":
            assert call[1:3] == ["--context", "lab"], call
        else:
            assert call[-2:] == ["--kube-context", "lab"], call


def test_manual_secrets_create_their_namespaces_then_apply_the_folders(manual: Cluster) -> None:
    run = manual.run()
    assert run.exit_code == 0, run.stderr
    calls = changing(manual.calls())
    assert calls[0][:3] == ["helm", "upgrade", "--install"]
    assert calls[-1] == ["kubectl", "apply", "-f", ROOT_APP]
    assert ["kubectl", "create", "namespace", "authelia", "--dry-run=client", "-o", "yaml"] in calls
    assert [
        "kubectl", "apply", "--recursive", "-f", "secrets/authelia/", "-f", "secrets/vaultwarden/"
    ] in calls  # fmt: skip
    # The namespace manifest kubectl create printed is what kubectl apply read.
    piped = manual.stdin_of("kubectl", "apply", "-f", "-")
    assert any("kind: Namespace" in text and "name: authelia" in text for text in piped)
    assert not any("sealing-key" in " ".join(c) for c in calls)


def test_repository_credentials_are_applied_before_the_root_application(sealed: Cluster) -> None:
    folder = sealed.repo / "secrets" / "argocd"
    folder.mkdir()
    (folder / "repo-homelab.yaml").write_text("apiVersion: v1\nkind: Secret\n")
    run = sealed.run()
    assert run.exit_code == 0, run.stderr
    calls = changing(sealed.calls())
    credentials = ["kubectl", "apply", "-f", "secrets/argocd/"]
    assert calls.index(credentials) == len(calls) - 2


def test_private_repository_credentials_follow_the_sealing_key_and_precede_the_root(
    private: Cluster,
) -> None:
    run = private.run()
    assert run.exit_code == 0, run.stderr
    assert changing(private.calls()) == [
        expected_helm(private.repo),
        ["kubectl", "apply", "-f", "secrets/sealing-key.yaml"],
        CREDENTIALS,
        ["kubectl", "apply", "-f", ROOT_APP],
    ]
    assert "Apply Argo CD's repository credentials" in run.stdout
    assert REPO_TOKEN not in run.stdout + run.stderr
    # Idempotent: a second run applies the same files again.
    assert private.run().exit_code == 0
    assert changing(private.calls())[4:] == changing(private.calls())[:4]


def test_dry_run_lists_the_repository_credentials(private: Cluster) -> None:
    run = private.run("--dry-run")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[1:] == [
        "kubectl apply -f secrets/sealing-key.yaml",
        "kubectl apply -f secrets/argocd/",
        f"kubectl apply -f {ROOT_APP}",
    ]
    assert private.calls() == []


def test_manual_secrets_apply_the_repository_credentials_before_the_root(
    private_manual: Cluster,
) -> None:
    run = private_manual.run()
    assert run.exit_code == 0, run.stderr
    calls = changing(private_manual.calls())
    # Right after Argo CD is installed (its namespace exists), long before the root.
    assert calls[:2] == [expected_helm(private_manual.repo), CREDENTIALS]
    assert calls[-1] == ["kubectl", "apply", "-f", ROOT_APP]
    # The other Secrets' folders do not repeat the credentials.
    assert not any("secrets/argocd/" in c for c in calls if "--recursive" in c)
    assert not any("sealing-key" in " ".join(c) for c in calls)


def test_missing_repository_credentials_are_refused_with_how_to_restore(
    private: Cluster,
) -> None:
    shutil.rmtree(private.repo / "secrets" / "argocd")
    run = private.run()
    assert_refused(run, "secrets/argocd/ is missing", "scaffold secret set repo_")
    assert changing(private.calls()) == []


def test_a_failing_step_stops_the_run_with_exit_5(sealed: Cluster) -> None:
    (sealed.state / "helm-fails").touch()
    run = sealed.run()
    assert run.exit_code == 5
    assert run.stderr_lines == [
        "Error: step 1 failed (exit 1): Error: INSTALLATION FAILED: context deadline exceeded; "
        "fix it and re-run `scaffold bootstrap` (the steps before it are safe to repeat)"
    ]
    assert not any(c[:2] == ["kubectl", "apply"] for c in sealed.calls())


# ---------------------------------------------------------------------------------------------
# Preconditions: exit 2, one line, nothing run against the cluster


def assert_refused(run: Run, *fragments: str) -> None:
    assert run.exit_code == 2, run.stdout + run.stderr
    assert len(run.stderr_lines) == 1, run.stderr
    assert run.stderr_lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in run.stderr_lines[0]


@pytest.mark.parametrize("tool", ["kubectl", "helm"])
def test_a_missing_tool_is_named_with_how_to_get_it(sealed: Cluster, tool: str) -> None:
    (sealed.bin / tool).unlink()
    run = sealed.run()
    assert_refused(run, f"{tool} is not on PATH", "install")
    assert sealed.calls() == []


def test_an_unreachable_cluster_is_refused_before_any_change(sealed: Cluster) -> None:
    (sealed.state / "unreachable").touch()
    run = sealed.run("--context", "lab")
    assert_refused(run, "context 'lab' does not answer", "127.0.0.1:6443 was refused")
    assert changing(sealed.calls()) == []


def test_an_unpushed_commit_is_refused(sealed: Cluster) -> None:
    (sealed.repo / "kubernetes" / "apps" / "extra.yaml").write_text("# later\n")
    sealed.commit("not pushed yet")
    run = sealed.run()
    assert_refused(run, "is not pushed", "git push origin HEAD:main")
    assert sealed.calls() == []


def test_a_pushed_commit_passes_after_the_push(sealed: Cluster) -> None:
    (sealed.repo / "kubernetes" / "apps" / "extra.yaml").write_text("# later\n")
    sealed.commit("pushed")
    sealed.push()
    assert sealed.run().exit_code == 0


def test_a_missing_branch_on_the_remote_is_refused(sealed: Cluster) -> None:
    set_revision(sealed, "lab")
    run = sealed.run()
    assert_refused(run, "has no branch or tag 'lab'", "git push origin HEAD:lab")


def set_revision(cluster: Cluster, revision: str) -> None:
    """Point scaffold.yaml and the Applications at ``revision`` and commit (not push)."""
    answers = cluster.repo / "scaffold.yaml"
    text = answers.read_text().replace("target_revision: main", f"target_revision: {revision}")
    answers.write_text(text)
    assert invoke("regenerate", "-C", cluster.repo, env=cluster.env).exit_code == 0
    cluster.commit(f"deploy {revision}")


def test_an_annotated_tag_is_followed_to_its_commit(sealed: Cluster) -> None:
    set_revision(sealed, "v1.0")
    assert git(sealed.repo, "-c", "user.name=t", "-c", "user.email=t@example.com",
               "tag", "-a", "v1.0", "-m", "release").returncode == 0  # fmt: skip
    assert git(sealed.repo, "push", "-q", str(sealed.remote), "v1.0").returncode == 0
    run = sealed.run()
    assert run.exit_code == 0, run.stderr
    assert f"{REPO_URL} has HEAD at v1.0" in run.stdout


def test_a_commit_revision_must_be_head(sealed: Cluster) -> None:
    old = git(sealed.repo, "rev-parse", "HEAD").stdout.strip()
    set_revision(sealed, old)
    sealed.push()
    run = sealed.run()
    assert_refused(run, f"target_revision {old} is a commit, but HEAD is")


def test_a_commit_revision_equal_to_head_passes_with_a_note(
    sealed: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sealed.env.items():
        monkeypatch.setenv(name, value)
    head = git(sealed.repo, "rev-parse", "HEAD").stdout.strip()
    notes = check_pushed(sealed.repo, Target(REPO_URL, head[:10]), {})
    assert notes == [f"target_revision {head[:10]} is a commit: checked that it is HEAD, "
                     f"not that {REPO_URL} has it"]  # fmt: skip


def test_an_unreachable_remote_falls_back_to_the_last_fetch(sealed: Cluster) -> None:
    fetched = git(sealed.repo, "fetch", "-q", str(sealed.remote), "main:refs/remotes/origin/main")
    assert fetched.returncode == 0, fetched.stderr
    gitconfig = Path(sealed.env["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(f'[url "{sealed.remote}-gone"]\n\tinsteadOf = {REPO_URL}\n')
    run = sealed.run()
    assert run.exit_code == 0, run.stderr
    assert "checked origin/main as last fetched instead" in run.stderr
    (sealed.repo / "kubernetes" / "apps" / "extra.yaml").write_text("# later\n")
    sealed.commit("not pushed, and not fetched")
    assert_refused(sealed.run(), "is not pushed")


def test_an_unreachable_remote_without_a_fetched_copy_is_refused(sealed: Cluster) -> None:
    gitconfig = Path(sealed.env["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(f'[url "{sealed.remote}-gone"]\n\tinsteadOf = {REPO_URL}\n')
    assert_refused(sealed.run(), f"cannot read {REPO_URL} with git ls-remote")


def test_uncommitted_changes_under_kubernetes_are_refused(sealed: Cluster) -> None:
    values = sealed.repo / "kubernetes" / "system" / "argocd" / "values.yaml"
    values.write_text(values.read_text() + "# tuning\n")
    run = sealed.run()
    assert_refused(run, "uncommitted changes under kubernetes/", "system/argocd/values.yaml")
    assert sealed.calls() == []


def test_a_folder_inside_another_git_repository_is_refused(
    tmp_path: Path, rendered: dict[str, Path]
) -> None:
    cluster = make_cluster(tmp_path, rendered["sealed"])
    outer = tmp_path / "outer"
    shutil.copytree(rendered["sealed"], outer / "lab")
    assert git(outer, "init", "-q").returncode == 0
    run = invoke("bootstrap", "-C", outer / "lab", env=cluster.env)
    assert_refused(run, "is the folder lab inside its git repository")


def test_the_placeholder_repo_url_is_refused_with_how_to_set_it(sealed: Cluster) -> None:
    answers = sealed.repo / "scaffold.yaml"
    answers.write_text(answers.read_text().replace(f"repo_url: {REPO_URL}\n", ""))
    run = sealed.run()
    assert_refused(run, "placeholder", "set it to the Git URL", "scaffold regenerate")
    assert sealed.calls() == []


def test_a_missing_sealing_key_is_refused_with_how_to_recover(sealed: Cluster) -> None:
    (sealed.repo / "secrets" / "sealing-key.yaml").unlink()
    run = sealed.run()
    assert_refused(run, "secrets/sealing-key.yaml is missing", "rotate --all --new-key")
    assert sealed.calls() == []


def test_dry_run_warns_what_a_real_run_would_refuse_and_still_prints(sealed: Cluster) -> None:
    (sealed.repo / "kubernetes" / "apps" / "extra.yaml").write_text("# not committed\n")
    run = sealed.run("--dry-run")
    assert run.exit_code == 0
    assert "a real run would stop here: uncommitted changes" in run.stderr
    assert len(run.stdout.splitlines()) == 3
    assert sealed.calls() == []


def test_without_scaffold_yaml_it_says_where_to_run(tmp_path: Path) -> None:
    run = invoke("bootstrap", "-C", tmp_path, "--dry-run")
    assert_refused(run, "no scaffold.yaml in")


# ---------------------------------------------------------------------------------------------
# --wait


def applications(repo: Path, *, ready: bool, stuck: str = "", missing: Sequence[str] = ()) -> dict[str, Any]:
    """What `kubectl get applications -o json` prints for the repository's Applications: all
    ready or all progressing, with ``stuck`` Degraded and ``missing`` not created yet."""
    items = []
    folder = repo / "kubernetes" / "system" / "argocd-config"
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "Application" or doc["metadata"]["name"] in missing:
                continue
            name = doc["metadata"]["name"]
            items.append(app_item(name, "Degraded" if name == stuck else
                                  ("Healthy" if ready else "Progressing")))  # fmt: skip
    return {"apiVersion": "v1", "kind": "List", "items": items}


def app_item(name: str, health_status: str) -> dict[str, Any]:
    healthy = health_status == "Healthy"
    status: dict[str, Any] = {
        "health": {"status": health_status},
        "sync": {"status": "Synced" if healthy else "OutOfSync"},
    }
    if health_status == "Degraded":
        status["resources"] = [
            {"kind": "Service", "namespace": name, "name": "web", "status": "Synced",
             "health": {"status": "Healthy"}},
            {"kind": "Deployment", "namespace": name, "name": name, "status": "Synced",
             "health": {"status": "Degraded", "message": "Deployment exceeded its progress deadline"}},
        ]  # fmt: skip
        status["operationState"] = {"phase": "Running", "message": "waiting for healthy state"}
    return {"metadata": {"name": name, "namespace": "argocd"}, "status": status}


def waves_of(repo: Path) -> dict[int, list[str]]:
    waves: dict[int, list[str]] = {}
    folder = repo / "kubernetes" / "system" / "argocd-config"
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Application" and doc["metadata"]["name"] != "root":
                wave = int(doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
                waves.setdefault(wave, []).append(doc["metadata"]["name"])
    return {w: sorted(n) for w, n in sorted(waves.items())}


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "POLL_SECONDS", 0.0)


@pytest.mark.usefixtures("no_pause")
def test_wait_reports_each_wave_in_order_as_it_becomes_healthy(sealed: Cluster) -> None:
    waves = waves_of(sealed.repo)
    later = [n for w, names in waves.items() if w > 1 for n in names]
    sealed.answer_applications(
        {"items": []},  # Argo CD has not read the root yet
        applications(sealed.repo, ready=False, missing=later),
        applications(sealed.repo, ready=True, missing=later),
        applications(sealed.repo, ready=True),
    )
    run = sealed.run("--wait")
    assert run.exit_code == 0, run.stderr
    reported = [line.strip() for line in run.stdout.splitlines() if line.startswith("  wave ")]
    assert reported == [
        f"wave {w}: {', '.join(names)} Healthy and Synced" for w, names in waves.items()
    ]
    assert run.stdout.splitlines()[-1].endswith("and root are Healthy and Synced.")
    polls = [c for c in sealed.calls() if c[1] == "get"]
    assert len(polls) == 4


@pytest.mark.usefixtures("no_pause")
def test_wait_timeout_names_the_stuck_application_and_why(sealed: Cluster) -> None:
    sealed.answer_applications(applications(sealed.repo, ready=True, stuck="traefik"))
    run = sealed.run("--wait", "--timeout", "0")
    assert run.exit_code == 6
    message = run.stderr_lines[-1]
    wave = next(w for w, names in waves_of(sealed.repo).items() if "traefik" in names)
    assert f"waiting for wave {wave}: Application traefik is Degraded, OutOfSync" in message
    assert "Deployment traefik/traefik: Degraded: Deployment exceeded its progress deadline" in (
        message
    )
    assert "last sync: Running: waiting for healthy state" in message
    # The waves before it were reported; none after it.
    assert f"  wave {wave - 1}:" in run.stdout
    assert f"  wave {wave}:" not in run.stdout


# ---------------------------------------------------------------------------------------------
# The wave watcher on its own (a fake clock: no sleeping)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1.0)


def status(name: str, health_status: str = "Healthy", sync: str = "Synced") -> AppStatus:
    return AppStatus(name, health_status, sync)


def polls(*answers: Sequence[AppStatus], error: str = "") -> Callable[[], Poll]:
    queue: Iterator[Sequence[AppStatus]] = iter(answers)
    last: list[Sequence[AppStatus]] = [()]

    def poll() -> Poll:
        last[0] = next(queue, last[0])
        return Poll({s.name: s for s in last[0]}, error)

    return poll


EXPECTED = Expected.of(
    [ChildApp("argocd", 0), ChildApp("metallb", 1), ChildApp("longhorn", 1), ChildApp("web", 2)],
    "root",
    "argocd",
)


def test_a_later_wave_is_reported_only_after_the_earlier_ones() -> None:
    fake = FakeTime()
    watched = watch_waves(
        EXPECTED,
        polls(
            [status("argocd"), status("web"), status("metallb")],
            [status(n) for n in ("argocd", "metallb", "longhorn", "web", "root")],
        ),
        60,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert list(watched) == [
        WaveReady(0, ("argocd",)),
        WaveReady(1, ("longhorn", "metallb")),
        WaveReady(2, ("web",)),
    ]


def test_the_root_application_is_waited_for_last() -> None:
    fake = FakeTime()
    children = [status(n) for n in ("argocd", "metallb", "longhorn", "web")]
    with pytest.raises(WaitTimeout, match="root Application: Application root is Progressing"):
        list(watch_waves(EXPECTED, polls([*children, status("root", "Progressing")]), 10,
                         clock=fake.clock, sleep=fake.sleep))  # fmt: skip


def test_a_missing_application_is_named_with_the_root_status() -> None:
    fake = FakeTime()
    root = AppStatus("root", "Healthy", "OutOfSync", "ComparisonError: repository not accessible")
    with pytest.raises(WaitTimeout) as caught:
        list(watch_waves(EXPECTED, polls([status("argocd"), root]), 5,
                         clock=fake.clock, sleep=fake.sleep))  # fmt: skip
    message = caught.value.format_message()
    assert "wave 1: Application longhorn does not exist yet" in message
    assert "root is Healthy, OutOfSync: ComparisonError: repository not accessible" in message
    assert "kubectl -n argocd describe application longhorn" in message
    assert fake.now >= 5


def test_a_failing_poll_is_explained_at_the_timeout() -> None:
    fake = FakeTime()
    with pytest.raises(WaitTimeout, match="last look at the cluster failed: forbidden"):
        list(watch_waves(EXPECTED, polls([], error="forbidden"), 3,
                         clock=fake.clock, sleep=fake.sleep))  # fmt: skip


def test_application_status_keeps_what_explains_it() -> None:
    text = json.dumps({
        "items": [
            app_item("traefik", "Degraded"),
            {"metadata": {"name": "bare"}},
            {"metadata": {"name": "cond"}, "status": {
                "health": {"status": "Healthy"}, "sync": {"status": "Unknown"},
                "conditions": [{"type": "ComparisonError", "message": "no chart 1.2.3"}],
            }},
        ]
    })  # fmt: skip
    found = parse_applications(text)
    assert found["bare"] == AppStatus("bare", "Unknown", "Unknown", "")
    assert found["cond"].detail == "ComparisonError: no chart 1.2.3"
    assert found["traefik"].detail == (
        "Deployment traefik/traefik: Degraded: Deployment exceeded its progress deadline; "
        "last sync: Running: waiting for healthy state"
    )
    with pytest.raises(ValueError):
        parse_applications("[]")


def test_bootstrap_writes_nothing(sealed: Cluster) -> None:
    before = read_tree(sealed.repo, secrets=True)
    assert sealed.run().exit_code == 0
    assert read_tree(sealed.repo, secrets=True) == before


# ---------------------------------------------------------------------------------------------
# The pushed-commit check over SSH: never waits on a host key or passphrase prompt

SSH_REMOTE = "ssh://git@git.test.invalid/alice/homelab.git"
SSH_STUB = r'''#!{python}
import json, os, pathlib, sys

state = pathlib.Path(os.environ["STUB_STATE"])
with open(state / "ssh.jsonl", "a") as log:
    log.write(json.dumps({
        "argv": sys.argv[1:],
        "GIT_TERMINAL_PROMPT": os.environ.get("GIT_TERMINAL_PROMPT"),
    }) + "\n")
args = sys.argv[1:]
batch = any(a == "BatchMode=yes" or a == "-oBatchMode=yes" for a in args)
if not batch:
    # A real ssh would now ask on /dev/tty and wait for an answer nobody sees.
    sys.stderr.write("stub ssh: would prompt (no BatchMode=yes)\n")
    sys.exit(99)
sys.stderr.write((state / "ssh-says").read_text())
sys.exit(255)
'''


def ssh_cluster(cluster: Cluster, says: str) -> Cluster:
    """The remote's URL rewritten to an ssh:// URL a stub ``ssh`` answers with ``says``."""
    stub = cluster.bin / "ssh"
    stub.write_text(SSH_STUB.replace("{python}", sys.executable))
    stub.chmod(0o755)
    (cluster.state / "ssh-says").write_text(says + "\n")
    gitconfig = Path(cluster.env["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(f'[url "{SSH_REMOTE}"]\n\tinsteadOf = {REPO_URL}\n')
    return cluster


def ssh_calls(cluster: Cluster) -> list[dict[str, Any]]:
    log = cluster.state / "ssh.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_an_unknown_host_key_fails_at_once_naming_ssh_t(sealed: Cluster) -> None:
    cluster = ssh_cluster(sealed, "Host key verification failed.")
    run = cluster.run()
    assert_refused(run, "host key", "ssh -T git@git.test.invalid")
    (call,) = ssh_calls(cluster)
    argv = call["argv"]
    assert argv[argv.index("BatchMode=yes") - 1] == "-o"
    assert call["GIT_TERMINAL_PROMPT"] == "0"
    assert cluster.calls() == []


def test_a_key_the_agent_lacks_fails_at_once_naming_ssh_add(sealed: Cluster) -> None:
    cluster = ssh_cluster(sealed, "git@git.test.invalid: Permission denied (publickey).")
    assert_refused(cluster.run(), "ssh-add")
    assert len(ssh_calls(cluster)) == 1


@pytest.mark.parametrize("where", ["GIT_SSH_COMMAND", "core.sshCommand"])
def test_the_users_ssh_command_is_kept_with_batch_mode_added(sealed: Cluster, where: str) -> None:
    cluster = ssh_cluster(sealed, "Host key verification failed.")
    theirs = "ssh -i /home/alice/.ssh/lab_key -o IdentitiesOnly=yes"
    if where == "GIT_SSH_COMMAND":
        cluster.env[where] = theirs
    else:
        gitconfig = Path(cluster.env["GIT_CONFIG_GLOBAL"])
        gitconfig.write_text(gitconfig.read_text() + f"[core]\n\tsshCommand = {theirs}\n")
    assert_refused(cluster.run(), "ssh -T")
    (call,) = ssh_calls(cluster)
    argv = call["argv"]
    assert argv[:4] == ["-i", "/home/alice/.ssh/lab_key", "-o", "IdentitiesOnly=yes"]
    assert "BatchMode=yes" in argv


def test_an_ssh_command_that_is_not_openssh_runs_unchanged(sealed: Cluster) -> None:
    """A wrapper git cannot tell is OpenSSH takes no ``-o``: it runs as the user set it."""
    cluster = ssh_cluster(sealed, "Host key verification failed.")
    wrapper = cluster.bin / "lab-ssh"
    wrapper.write_text(f'#!/bin/sh\nexec "{cluster.bin / "ssh"}" -o BatchMode=yes "$@"\n')
    wrapper.chmod(0o755)
    cluster.env["GIT_SSH_COMMAND"] = "lab-ssh"
    cluster.env["GIT_SSH_VARIANT"] = "simple"
    assert_refused(cluster.run(), "ssh -T")
    (call,) = ssh_calls(cluster)
    assert call["argv"].count("BatchMode=yes") == 1


def test_batch_mode_follows_gits_order_of_ssh_commands() -> None:
    from homelab_scaffold.cluster.pushed import batch_ssh_command

    batch = "-o BatchMode=yes"
    assert batch_ssh_command({}, None) == f"ssh {batch}"
    # GIT_SSH_COMMAND wins over core.sshCommand, which wins over GIT_SSH.
    env = {"GIT_SSH_COMMAND": "ssh -i k1", "GIT_SSH": "/opt/my ssh/ssh"}
    assert batch_ssh_command(env, "ssh -i k2") == f"ssh -i k1 {batch}"
    assert batch_ssh_command({"GIT_SSH": "/opt/my ssh/ssh"}, "ssh -i k2") == f"ssh -i k2 {batch}"
    assert batch_ssh_command({"GIT_SSH": "/opt/my ssh/ssh"}, None) == f"'/opt/my ssh/ssh' {batch}"
    # Not OpenSSH (by name or by GIT_SSH_VARIANT): left to git as it is.
    assert batch_ssh_command({"GIT_SSH": "plink.exe"}, None) is None
    assert batch_ssh_command({"GIT_SSH_COMMAND": "ssh", "GIT_SSH_VARIANT": "putty"}, None) is None
    assert batch_ssh_command({"GIT_SSH_COMMAND": "my-ssh", "GIT_SSH_VARIANT": "ssh"}, None) == (
        f"my-ssh {batch}"
    )


# ---------------------------------------------------------------------------------------------
# Progress on a terminal while helm and the waves take minutes


def test_the_watcher_says_what_it_waits_for_before_each_wait() -> None:
    fake = FakeTime()
    told: list[str] = []
    watched = watch_waves(
        EXPECTED,
        polls(
            [status("argocd"), status("metallb", "Progressing")],
            [*map(status, ("argocd", "metallb", "longhorn")), status("web", "Healthy", "OutOfSync")],
            [*map(status, ("argocd", "metallb", "longhorn", "web")), status("root", "Progressing")],
            [status(n) for n in ("argocd", "metallb", "longhorn", "web", "root")],
        ),
        60,
        clock=fake.clock,
        sleep=fake.sleep,
        on_wait=told.append,
    )
    assert len(list(watched)) == 3
    assert told == [
        "waiting for wave 1: longhorn not created yet, metallb Progressing",
        "waiting for wave 2: web Healthy, OutOfSync",
        "waiting for the root Application root: Progressing",
    ]


def test_the_waiting_phrase_names_two_applications_and_counts_the_rest() -> None:
    from homelab_scaffold.cluster.health import waiting_for

    expected = Expected.of([ChildApp(n, 1) for n in ("a", "b", "c", "d")], "root", "argocd")
    seen = Poll({"a": status("a", "Progressing"), "d": status("d")})
    phrase = waiting_for(expected, set(), seen)
    assert phrase == "waiting for wave 1: a Progressing, b not created yet and 1 more"


def test_elapsed_reads_like_a_clock() -> None:
    assert [ui.elapsed(s) for s in (0, 59.9, 80, 3599, 3720)] == [
        "0s", "59s", "1m20s", "59m59s", "1h02m"
    ]


def test_a_terminal_sees_what_helm_and_the_waves_wait_for(sealed: Cluster) -> None:
    exe = Path(sys.executable).with_name("scaffold")
    if not exe.exists():
        pytest.skip(f"{exe} is not installed")
    # helm takes a while, as `--wait` makes it; the first look finds wave 1 still progressing.
    helm = sealed.bin / "helm"
    first, rest = STUB.replace("{python}", sys.executable).split("\n", 1)
    helm.write_text(f"{first}\nimport time; time.sleep(1.5)\n{rest}")
    wave, names = next(iter(waves_of(sealed.repo).items()))
    later = [n for w, names in waves_of(sealed.repo).items() if w > 1 for n in names]
    sealed.answer_applications(
        applications(sealed.repo, ready=False, missing=later), applications(sealed.repo, ready=True)
    )
    child = pexpect.spawn(str(exe), ["bootstrap", "-C", str(sealed.repo), "--wait"],
                          env={**sealed.env, "TERM": "xterm", "LANG": "C.UTF-8"},
                          encoding="utf-8", timeout=60, dimensions=(50, 250))  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before
    assert child.exitstatus == 0, shown
    assert "helm installs Argo CD and waits up to 10m for it to be ready (1s)" in shown
    assert f"waiting for wave {wave}: {names[0]} Progressing" in shown
    assert "\r\x1b[K" in shown  # the spinner's line is erased before the next line
    assert shown.rstrip().endswith("and root are Healthy and Synced.")


@pytest.mark.usefixtures("no_pause")
def test_without_a_terminal_bootstrap_shows_no_progress(sealed: Cluster) -> None:
    later = [n for w, names in waves_of(sealed.repo).items() if w > 1 for n in names]
    sealed.answer_applications(
        applications(sealed.repo, ready=False, missing=later), applications(sealed.repo, ready=True)
    )
    run = sealed.run("--wait")
    assert run.exit_code == 0, run.stderr
    assert "\r" not in run.stdout + run.stderr
    assert "waiting for wave" not in run.stdout + run.stderr
