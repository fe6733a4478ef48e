"""`scaffold secret seal` and `scaffold secret cert`: your own Secrets, sealed offline.

Every SealedSecret written here is decrypted with the repository's private key and compared with
the data given; the file must validate against the upstream SealedSecret schema, land in the
folder of the Application that deploys into its namespace, and be left alone by regenerate,
drift and remove. No value may appear in anything the command prints.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_URL, Run, commit_all, git, invoke, snapshot
from schema_check import shared_available, validate_document
from test_completion import complete, values

from homelab_scaffold.generate import sealing_crypto as sealing
from homelab_scaffold.repo.secret_store import SecretStore

ANSWERS = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  vaultwarden: {{}}
  photos:
    from: manifests-app
  shared-a:
    from: manifests-app
    namespace: shared
  shared-b:
    from: manifests-app
    namespace: shared
"""
MANUAL = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
secrets: manual
components:
  photos:
    from: manifests-app
"""
PHOTOS = "kubernetes/apps/photos"
DB_FILE = f"{PHOTOS}/db.sealedsecret.yaml"
# Distinctive plaintexts: none of them may ever be printed.
PASSWORD = "pw-Zq81-never-printed"
BINARY = b"\x00\xff\xfe binary \x80 ca-never-printed \n"
needs_shared = pytest.mark.skipif(not shared_available(), reason="../shared/schemas is missing")


@pytest.fixture
def repo(make_committed: Callable[..., Path]) -> Path:
    return make_committed(ANSWERS)


def seal(root: Path, *args: object, stdin: str | None = None) -> Run:
    run = invoke("secret", "seal", *args, "-C", root, stdin=stdin)
    for text in (run.stdout, run.stderr):
        assert PASSWORD not in text and "ca-never-printed" not in text
    return run


def document(root: Path, path: str = DB_FILE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / path).read_text())
    return data


def key_pair(root: Path) -> sealing.KeyPair:
    pair = SecretStore(root).key_pair()
    assert pair is not None
    return pair


def unsealed(root: Path, doc: dict[str, Any], scope: Any = "strict") -> dict[str, bytes]:
    """Every value of a SealedSecret, decrypted with the repository's private key."""
    metadata = doc["metadata"]
    return {
        key: sealing.unseal(
            value,
            namespace=metadata["namespace"],
            name=metadata["name"],
            scope=scope,
            private_key_pem=key_pair(root).private_key_pem,
        )
        for key, value in doc["spec"]["encryptedData"].items()
    }


# ---------------------------------------------------------------------------------------------
# Sealing


def test_literals_and_files_seal_into_the_namespace_app_folder(repo: Path, tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(BINARY)

    run = seal(repo, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}",
               "--from-literal", "empty=", "--from-file", ca, "--from-file", f"blob={ca}")

    assert run.exit_code == 0, run.stderr
    assert f"create  {DB_FILE}" in run.stdout
    assert "Application photos" in run.stdout
    doc = document(repo)
    assert doc["metadata"]["name"] == "db" and doc["metadata"]["namespace"] == "photos"
    assert doc["metadata"]["annotations"] == {
        "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"
    }
    assert doc["spec"]["template"] == {
        "metadata": {"name": "db", "namespace": "photos"}, "type": "Opaque"
    }
    assert unsealed(repo, doc) == {
        "password": PASSWORD.encode(), "empty": b"", "ca.crt": BINARY, "blob": BINARY
    }
    assert sealing.document_scope(doc) == "strict"


@needs_shared
@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_every_scope_validates_and_decrypts_only_with_its_label(repo: Path, scope: str) -> None:
    run = seal(repo, "db", "-n", "photos", "--scope", scope, "--from-literal", f"p={PASSWORD}")

    assert run.exit_code == 0, run.stderr
    doc = document(repo)
    assert validate_document(doc) == []
    assert sealing.document_scope(doc) == scope
    assert unsealed(repo, doc, scope) == {"p": PASSWORD.encode()}
    if scope != "cluster-wide":
        with pytest.raises(sealing.RepoError):
            sealing.unseal(doc["spec"]["encryptedData"]["p"], namespace="other", name="db",
                           scope=scope, private_key_pem=key_pair(repo).private_key_pem)


def test_a_manifest_on_stdin_keeps_type_labels_annotations(repo: Path) -> None:
    manifest = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: registry
  namespace: photos
  labels: {{app: photos}}
  annotations:
    note: kept
    kubectl.kubernetes.io/last-applied-configuration: "{{}}"
type: kubernetes.io/basic-auth
immutable: true
data:
  username: {base64.b64encode(b"alice").decode()}
  password: {base64.b64encode(b"overridden").decode()}
stringData:
  password: {PASSWORD}
"""
    run = seal(repo, "-f", "-", stdin=manifest)

    assert run.exit_code == 0, run.stderr
    doc = document(repo, f"{PHOTOS}/registry.sealedsecret.yaml")
    assert doc["spec"]["template"] == {
        "metadata": {
            "name": "registry",
            "namespace": "photos",
            "labels": {"app": "photos"},
            "annotations": {"note": "kept"},
        },
        "type": "kubernetes.io/basic-auth",
        "immutable": True,
    }
    assert unsealed(repo, doc) == {"username": b"alice", "password": PASSWORD.encode()}


def test_sealing_again_changes_nothing_then_replaces_and_merges(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", f"a={PASSWORD}").exit_code == 0
    first = (repo / DB_FILE).read_text()

    again = seal(repo, "db", "-n", "photos", "--from-literal", f"a={PASSWORD}")
    assert again.exit_code == 0 and "unchanged" in again.stdout
    assert (repo / DB_FILE).read_text() == first

    replaced = seal(repo, "db", "-n", "photos", "--from-literal", "b=two")
    assert replaced.exit_code == 0, replaced.stderr
    assert "Replaced the SealedSecret of photos/db" in replaced.stdout
    assert unsealed(repo, document(repo)) == {"b": b"two"}

    merged = seal(repo, "db", "-n", "photos", "--merge", "--from-literal", f"a={PASSWORD}")
    assert merged.exit_code == 0, merged.stderr
    assert unsealed(repo, document(repo)) == {"a": PASSWORD.encode(), "b": b"two"}


def test_merge_refuses_another_scope(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", "a=1").exit_code == 0
    before = snapshot(repo)

    run = seal(repo, "db", "-n", "photos", "--merge", "--scope", "cluster-wide",
               "--from-literal", "b=2")

    assert run.exit_code == 2 and "--merge" in run.stderr
    assert snapshot(repo) == before


def test_dry_run_writes_nothing_and_shows_only_ciphertext(repo: Path) -> None:
    before = snapshot(repo)

    run = seal(repo, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}", "--dry-run")

    assert run.exit_code == 0, run.stderr
    assert f"+++ b/{DB_FILE}" in run.stdout and "Dry run: nothing was written." in run.stdout
    assert snapshot(repo) == before


def test_json_output_names_path_and_keys(repo: Path) -> None:
    import json

    run = seal(repo, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}",
               "--output", "json")

    assert run.exit_code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["path"] == DB_FILE and data["action"] == "create" and data["written"] is True
    assert data["application"] == "photos"
    assert data["secret"] == {"namespace": "photos", "name": "db", "type": "Opaque",
                              "scope": "strict", "keys": ["password"]}


def test_secret_list_shows_your_own_sealed_secrets_never_a_value(repo: Path) -> None:
    import json

    assert seal(repo, "db", "-n", "photos", "--scope", "namespace-wide",
                "--from-literal", f"password={PASSWORD}", "--from-literal", "user=u").exit_code == 0
    commit_all(repo)

    text = invoke("secret", "list", "-C", repo)
    as_json = invoke("secret", "list", "--output", "json", "-C", repo)

    assert text.exit_code == 0 and as_json.exit_code == 0, text.stderr + as_json.stderr
    assert (
        f"photos/db (sealed by you, namespace-wide scope): SealedSecret with keys password, user "
        f"in {DB_FILE}"
    ) in text.stdout.splitlines()
    rows = json.loads(as_json.stdout)["secrets"]
    yours = [r for r in rows if r["origin"] == "yours"]
    assert yours == [{"name": "db", "origin": "yours", "namespace": "photos",
                      "scope": "namespace-wide", "type": "Opaque", "keys": ["password", "user"],
                      "path": DB_FILE}]
    theirs = [r for r in rows if r["origin"] != "yours"]
    assert theirs and all(set(r) == {"name", "component", "key", "origin", "alias", "has_value",
                                     "carried_by"} for r in theirs)
    ciphertext = document(repo)["spec"]["encryptedData"]["password"]
    for out in (text.stdout, as_json.stdout):
        assert PASSWORD not in out and ciphertext not in out


@pytest.mark.parametrize("commit", [True, False], ids=["committed", "uncommitted"])
@pytest.mark.parametrize(
    "new", ["", "/secrets/*\n!/secrets/values.yaml\n"], ids=["rule-deleted", "rule-negated"]
)
def test_sealing_restores_the_secrets_rule_like_every_writing_command(
    repo: Path, new: str, commit: bool
) -> None:
    import json

    gitignore = repo / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("/secrets/\n", new))
    if commit:
        identity = ("-c", "user.name=T", "-c", "user.email=t@example.invalid")
        git(repo, *identity, "commit", "-qm", "drop the rule", "--", ".gitignore")
        assert git(repo, "status", "--porcelain", ".gitignore").stdout == ""
    assert git(repo, "check-ignore", "-q", "secrets/values.yaml").returncode == 1

    dry = seal(repo, "db", "-n", "photos", "--from-literal", "k=v", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert not (repo / DB_FILE).exists()
    assert git(repo, "check-ignore", "-q", "secrets/values.yaml").returncode == 1

    run = seal(repo, "db", "-n", "photos", "--from-literal", "k=v", "--output", "json")

    assert run.exit_code == 0, run.stderr
    notes = json.loads(run.stdout)["notes"]
    assert "added /secrets/ to .gitignore: secrets/ must never be committed" in notes
    for probe in ("secrets/values.yaml", "secrets/sealing-key/tls.key", "secrets/x/y.yaml"):
        assert git(repo, "check-ignore", "-q", probe).returncode == 0, probe
    assert (repo / DB_FILE).is_file()
    again = seal(repo, "db", "-n", "photos", "--from-literal", "k=v")
    assert again.exit_code == 0 and "added /secrets/" not in again.stdout + again.stderr


# ---------------------------------------------------------------------------------------------
# Where the file goes


def test_a_namespace_with_several_apps_needs_app(repo: Path) -> None:
    before = snapshot(repo)
    run = seal(repo, "db", "-n", "shared", "--from-literal", f"p={PASSWORD}")
    assert run.exit_code == 2
    assert len(run.stderr_lines) == 1
    assert "pass --app with one of shared-a, shared-b" in run.stderr
    assert snapshot(repo) == before

    chosen = seal(repo, "db", "-n", "shared", "--app", "shared-b", "--from-literal", "p=1")
    assert chosen.exit_code == 0, chosen.stderr
    assert (repo / "kubernetes/apps/shared-b/db.sealedsecret.yaml").is_file()


def test_a_config_app_receives_its_namespace(repo: Path) -> None:
    run = seal(repo, "pool-creds", "-n", "metallb-system", "--from-literal", "k=v")

    assert run.exit_code == 0, run.stderr
    assert (repo / "kubernetes/system/metallb-config/pool-creds.sealedsecret.yaml").is_file()


def test_output_file_inside_the_repository(repo: Path) -> None:
    target = repo / "kubernetes/apps/photos/extra/db.yaml"
    run = seal(repo, "db", "-n", "photos", "--output-file", target, "--from-literal", "k=v")

    assert run.exit_code == 0, run.stderr
    assert target.is_file()
    assert "No Application of scaffold deploys kubernetes/apps/photos/extra/" in run.stdout


def test_never_writes_through_a_link(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "kubernetes/apps/linked").symlink_to(outside)
    before = snapshot(repo)

    run = seal(repo, "db", "-n", "photos", "--output-file",
               repo / "kubernetes/apps/linked/db.yaml", "--from-literal", "k=v")

    assert run.exit_code == 2 and "symbolic link" in run.stderr
    assert list(outside.iterdir()) == [] and snapshot(repo) == before


def test_another_file_sealing_the_same_secret_is_refused(repo: Path) -> None:
    assert seal(repo, "db", "-n", "shared", "--app", "shared-a", "--from-literal", "k=v").exit_code == 0
    run = seal(repo, "db", "-n", "shared", "--app", "shared-b", "--from-literal", "k=v")

    assert run.exit_code == 2
    assert "kubernetes/apps/shared-a/db.sealedsecret.yaml already seals the Secret shared/db" in (
        run.stderr
    )


def test_a_kubeseal_file_of_any_name_sealing_the_same_secret_is_refused(repo: Path) -> None:
    # kubeseal's output is named as its user likes: the clash check reads every SealedSecret.
    first = seal(repo, "db", "-n", "shared", "--app", "shared-a", "--from-literal", "k=v")
    assert first.exit_code == 0, first.stderr
    sealed = repo / "kubernetes/apps/shared-a/db.sealedsecret.yaml"
    sealed.rename(sealed.with_name("from-kubeseal.yaml"))
    commit_all(repo)

    run = seal(repo, "db", "-n", "shared", "--app", "shared-b", "--from-literal", "k=v")

    assert run.exit_code == 2
    assert "kubernetes/apps/shared-a/from-kubeseal.yaml already seals the Secret shared/db" in (
        run.stderr
    )
    assert not (repo / "kubernetes/apps/shared-b/db.sealedsecret.yaml").exists()


def test_a_foreign_file_at_the_target_needs_force(repo: Path) -> None:
    (repo / DB_FILE).write_text("# mine\n")
    commit_all(repo)

    refused = seal(repo, "db", "-n", "photos", "--from-literal", "k=v")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert (repo / DB_FILE).read_text() == "# mine\n"

    forced = seal(repo, "db", "-n", "photos", "--from-literal", "k=v", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert unsealed(repo, document(repo)) == {"k": b"v"}


# ---------------------------------------------------------------------------------------------
# The rest of scaffold leaves the file alone


def test_regenerate_and_drift_ignore_a_sealed_file(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}").exit_code == 0
    commit_all(repo)
    text = (repo / DB_FILE).read_text()

    regenerated = invoke("regenerate", "-C", repo)
    assert regenerated.exit_code == 0, regenerated.stderr
    assert "Nothing to change" in regenerated.stdout
    drift = invoke("validate", "--drift", "--offline", "-C", repo)
    assert drift.exit_code == 0, drift.stdout + drift.stderr
    assert (repo / DB_FILE).read_text() == text


def test_remove_keeps_the_file_and_says_so(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", "k=v").exit_code == 0
    commit_all(repo)

    run = invoke("remove", "photos", "--yes", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert f"Kept {DB_FILE}" in run.stdout
    assert (repo / DB_FILE).is_file()
    assert not (repo / f"{PHOTOS}/configmap.yaml").exists()


# Your own SealedSecrets keep the controller that decrypts them


def sealed_secrets_listed(root: Path) -> bool:
    return "sealed-secrets" in (yaml.safe_load((root / "scaffold.yaml").read_text())["components"])


SEALING_APP = "kubernetes/system/argocd-config/sealed-secrets.yaml"


def test_the_controller_stays_while_your_own_sealed_secret_exists(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}").exit_code == 0
    commit_all(repo)
    removed = invoke("remove", "vaultwarden", "--yes", "-C", repo)  # the last generated secrets
    assert removed.exit_code == 0, removed.stderr
    commit_all(repo)
    assert sealed_secrets_listed(repo) and (repo / SEALING_APP).is_file()
    before = snapshot(repo)

    run = invoke("remove", "sealed-secrets", "--yes", "-C", repo)

    assert run.exit_code == 2, run.stdout + run.stderr
    (line,) = run.stderr_lines
    assert "cannot remove sealed-secrets" in line and DB_FILE in line
    assert "delete" in line  # says what to do
    assert snapshot(repo) == before
    drift = invoke("validate", "--drift", "--offline", "-C", repo)
    assert drift.exit_code == 0, drift.stdout + drift.stderr


def test_dropping_the_controller_from_scaffold_yaml_brings_it_back(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", "k=v").exit_code == 0
    commit_all(repo)
    answers = repo / "scaffold.yaml"
    data = yaml.safe_load(answers.read_text())
    del data["components"]["vaultwarden"], data["components"]["sealed-secrets"]
    answers.write_text(yaml.safe_dump(data, sort_keys=False))
    commit_all(repo)

    run = invoke("regenerate", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert "sealed-secrets" in run.stdout and f"your SealedSecrets ({DB_FILE})" in run.stdout
    assert sealed_secrets_listed(repo) and (repo / SEALING_APP).is_file()
    assert (repo / DB_FILE).is_file()
    commit_all(repo)
    drift = invoke("validate", "--drift", "--offline", "-C", repo)
    assert drift.exit_code == 0, drift.stdout + drift.stderr


def test_without_your_sealed_secrets_the_controller_can_go(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", "k=v").exit_code == 0
    assert invoke("remove", "vaultwarden", "--yes", "-C", repo).exit_code == 0
    (repo / DB_FILE).unlink()
    commit_all(repo)

    run = invoke("remove", "sealed-secrets", "--yes", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert not sealed_secrets_listed(repo) and not (repo / SEALING_APP).exists()


def test_rotate_new_key_names_your_own_sealed_files(repo: Path) -> None:
    assert seal(repo, "db", "-n", "photos", "--from-literal", "k=v").exit_code == 0
    commit_all(repo)

    run = invoke("secret", "rotate", "--all", "--new-key", "--dry-run", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert f"Seal your own SealedSecrets again with the new key (`scaffold secret seal`): {DB_FILE}" in (
        run.stdout
    )


def test_rotate_new_key_names_your_own_sealed_files_of_any_name(repo: Path) -> None:
    other = f"{PHOTOS}/api-creds.yaml"
    assert seal(repo, "api", "-n", "photos", "--from-literal", "k=v",
                "--output-file", repo / other).exit_code == 0
    commit_all(repo)

    run = invoke("secret", "rotate", "--all", "--new-key", "--dry-run", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert f"Seal your own SealedSecrets again with the new key (`scaffold secret seal`): {other}" in (
        run.stdout
    )


# ---------------------------------------------------------------------------------------------
# Refusals and the certificate


def test_refused_without_a_key_pair(make_committed: Callable[..., Path]) -> None:
    root = make_committed(MANUAL)
    before = snapshot(root)

    run = seal(root, "db", "-n", "photos", "--from-literal", f"password={PASSWORD}")

    assert run.exit_code == 2 and "secrets: manual" in run.stderr
    assert snapshot(root) == before
    cert = invoke("secret", "cert", "-C", root)
    assert cert.exit_code == 2 and cert.stdout == ""


def test_a_lost_key_is_refused(repo: Path) -> None:
    for name in ("tls.crt", "tls.key"):
        (repo / "secrets/sealing-key" / name).unlink()

    run = seal(repo, "db", "-n", "photos", "--from-literal", "k=v")

    assert run.exit_code == 2 and "no sealing key in secrets/sealing-key/" in run.stderr
    assert not (repo / DB_FILE).exists()


def test_cert_prints_the_certificate_exactly(repo: Path) -> None:
    run = invoke("secret", "cert", "-C", repo)

    assert run.exit_code == 0, run.stderr
    assert run.stdout == (repo / "secrets/sealing-key/tls.crt").read_text()
    assert "kubeseal --cert" in run.stderr
    assert "PRIVATE KEY" not in run.stdout + run.stderr


def test_a_file_value_is_read_as_bytes_and_the_size_capped(repo: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024 + 1))

    run = seal(repo, "db", "-n", "photos", "--from-file", f"blob={big}")

    assert run.exit_code == 2 and "1048576" in run.stderr
    assert len(run.stderr_lines) == 1, run.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("option", ["--from-file", "-f"])
def test_an_endless_file_is_refused_after_the_cap(repo: Path, option: str) -> None:
    before = snapshot(repo)
    given = ("--from-file", "blob=/dev/zero") if option == "--from-file" else ("-f", "/dev/zero")

    run = seal(repo, "db", "-n", "photos", *given)

    assert run.exit_code == 2 and "larger than" in run.stderr
    assert len(run.stderr_lines) == 1, run.stderr
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------------------------
# Completion


def test_completion_offers_the_new_commands_apps_and_namespaces(repo: Path) -> None:
    assert {"cert", "seal"} <= set(values(complete("scaffold secret ")))
    apps = values(complete(f"scaffold secret seal -C {repo} --app "))
    assert {"photos", "shared-a", "shared-b", "metallb-config"} <= set(apps)
    assert "sealed-secrets" not in apps
    namespaces = values(complete(f"scaffold secret seal -C {repo} --namespace sh"))
    assert namespaces == ["shared"]
