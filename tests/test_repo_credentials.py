"""Private repositories: Argo CD's repository credentials from `scaffold init` to the cluster.

The credentials (an SSH deploy key or an HTTPS token) come from a file option, an environment
variable or a prompt, never from `--set`; they are kept in plaintext only in the gitignored
`secrets/argocd/` (0600), sealed into Git for the controller when the repository seals, and
never printed or committed.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Generated, commit_all, generate, git, git_init, invoke, read_tree
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schema_check import shared_available, validate_document

from homelab_scaffold.generate import sealing_crypto as sealing
from homelab_scaffold.repo.secret_store import SecretStore

SSH_URL = "git@github.com:alice/homelab.git"
HTTPS_URL = "https://github.com/alice/homelab.git"
PLAINTEXT = "secrets/argocd/repository.yaml"
SEALED = "kubernetes/system/argocd-config/homelab-repository.sealedsecret.yaml"
SEALING_APP = "kubernetes/system/argocd-config/sealed-secrets.yaml"
TOKEN = "ghp_Sup3rS3cretT0kenValue0123456789abcd"
TOKEN_ENV = "SCAFFOLD_REPO_TOKEN"
KEY_ENV = "SCAFFOLD_REPO_SSH_KEY"
REPOSITORY_LABEL = "argocd.argoproj.io/secret-type"
MANAGED = "sealedsecrets.bitnami.com/managed"


def private_key() -> str:
    """A fresh ed25519 deploy key in OpenSSH's file format."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return pem.decode()


def encrypted_pkcs8_key() -> str:
    """A passphrase-protected key in PKCS#8's PEM format."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hunter2"),
    )
    return pem.decode()


def encrypted_openssh_key() -> str:
    """The start of a passphrase-protected OpenSSH key file: its header names the cipher."""
    name = b"aes256-ctr"
    blob = b"openssh-key-v1\x00" + len(name).to_bytes(4, "big") + name + bytes(64)
    body = base64.b64encode(blob).decode()
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]
    )


def public_key(private: str) -> str:
    key = serialization.load_ssh_private_key(private.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode() + " alice@laptop\n"


def key_file(tmp_path: Path, text: str, name: str = "deploy_key") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def fragments(secret: str) -> list[str]:
    """Pieces of a credential that must appear nowhere: the token, or each line of a key body."""
    lines = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    return lines or [secret]


def secret_doc(root: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((root / PLAINTEXT).read_text())
    return document


def unsealed(root: Path) -> dict[str, bytes]:
    """The data of the repository's SealedSecret, decrypted with its private key."""
    document = yaml.safe_load((root / SEALED).read_text())
    key_pair = SecretStore(root).key_pair()
    assert key_pair is not None
    metadata = document["metadata"]
    return {
        key: sealing.unseal(
            value,
            namespace=metadata["namespace"],
            name=metadata["name"],
            scope="strict",
            private_key_pem=key_pair.private_key_pem,
        )
        for key, value in document["spec"]["encryptedData"].items()
    }


def committed_texts(root: Path) -> dict[str, str]:
    """Every file git tracks after committing the whole work tree."""
    commit_all(root, "init")
    listed = git(root, "ls-files", "-z").stdout.split("\0")
    return {path: (root / path).read_text() for path in listed if path}


@pytest.fixture(scope="module")
def deploy_key() -> str:
    return private_key()


@pytest.fixture(scope="module")
def ssh_repo(tmp_path_factory: pytest.TempPathFactory, deploy_key: str) -> Generated:
    """The default stack (sealed) of a private repository read with an SSH deploy key file."""
    base = tmp_path_factory.mktemp("ssh")
    path = key_file(base, deploy_key)
    dest = git_init(base / "homelab")
    return generate(dest, "--no-input", "--set", f"repo_url={SSH_URL}", "--repo-ssh-key-file", path)


@pytest.fixture(scope="module")
def token_repo(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """A small manual-secrets stack read over HTTPS with a token from the environment."""
    dest = git_init(tmp_path_factory.mktemp("https") / "homelab")
    return generate(
        dest, "--no-input",
        "--set", f"repo_url={HTTPS_URL}", "--set", "repo_auth=https",
        "--set", "repo_username=alice", "--set", "secrets=manual",
        env={TOKEN_ENV: TOKEN},
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# What init writes


def test_an_ssh_key_file_becomes_a_private_repository_secret(
    ssh_repo: Generated, deploy_key: str
) -> None:
    root = ssh_repo.root
    assert ssh_repo.answers()["repo_auth"] == "ssh"
    assert stat.S_IMODE((root / PLAINTEXT).stat().st_mode) == 0o600
    doc = secret_doc(root)
    assert doc["metadata"]["namespace"] == "argocd"
    assert doc["metadata"]["labels"] == {REPOSITORY_LABEL: "repository"}
    # Applied before the controller runs, taken over by it later.
    assert doc["metadata"]["annotations"] == {MANAGED: "true"}
    assert doc["stringData"] == {"type": "git", "url": SSH_URL, "sshPrivateKey": deploy_key}
    assert "Repository credentials: secrets/argocd/" in ssh_repo.run.stdout


def test_the_sealed_copy_decrypts_to_the_same_secret(ssh_repo: Generated, deploy_key: str) -> None:
    root = ssh_repo.root
    assert unsealed(root) == {
        "type": b"git",
        "url": SSH_URL.encode(),
        "sshPrivateKey": deploy_key.encode(),
    }
    document = yaml.safe_load((root / SEALED).read_text())
    template = document["spec"]["template"]["metadata"]
    assert template["labels"] == {REPOSITORY_LABEL: "repository"}
    assert (template["namespace"], template["name"]) == ("argocd", "homelab-repository")


def test_the_root_syncs_the_sealed_copy_after_the_sealing_controller(ssh_repo: Generated) -> None:
    root = ssh_repo.root
    annotations = yaml.safe_load((root / SEALED).read_text())["metadata"]["annotations"]
    controller = yaml.safe_load((root / SEALING_APP).read_text())
    controller_wave = int(controller["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert int(annotations["argocd.argoproj.io/sync-wave"]) > controller_wave
    assert annotations["argocd.argoproj.io/sync-options"] == "SkipDryRunOnMissingResource=true"
    # Argo CD itself never waits for the controller: it is wave 0, installed by bootstrap.
    argocd = yaml.safe_load((root / "kubernetes/system/argocd-config/argocd.yaml").read_text())
    assert argocd["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "0"
    run = invoke("validate", "-C", root, "--offline")
    assert run.exit_code == 0, run.stdout + run.stderr


@pytest.mark.skipif(not shared_available(), reason="../shared/schemas is absent")
def test_the_secret_and_its_sealed_copy_validate(ssh_repo: Generated) -> None:
    for path in (PLAINTEXT, SEALED):
        document = yaml.safe_load((ssh_repo.root / path).read_text())
        assert validate_document(document) == [], path


def test_a_token_from_the_environment_with_manual_secrets(token_repo: Generated) -> None:
    root = token_repo.root
    answers = token_repo.answers()
    assert (answers["repo_auth"], answers["repo_username"]) == ("https", "alice")
    assert stat.S_IMODE((root / PLAINTEXT).stat().st_mode) == 0o600
    assert secret_doc(root)["stringData"] == {
        "type": "git", "url": HTTPS_URL, "username": "alice", "password": TOKEN,
    }  # fmt: skip
    assert not list((root / "kubernetes").rglob("*.sealedsecret.yaml"))
    assert "sealed-secrets" not in answers["components"]
    readme = (root / "README.md").read_text()
    assert "kubectl apply -f secrets/argocd/" in readme
    assert "scaffold secret set repo_token" in readme


def test_a_public_repository_has_no_credentials(tmp_path: Path) -> None:
    generated = generate(tmp_path / "homelab", "--no-input", "--set", f"repo_url={HTTPS_URL}")
    assert "repo_auth" not in generated.answers()
    assert not (generated.root / "secrets" / "argocd").exists()
    assert "credentials for this private repository" not in (generated.root / "README.md").read_text()


@pytest.mark.parametrize("which", ["ssh", "token"])
def test_no_credential_reaches_git_or_the_terminal(
    which: str, ssh_repo: Generated, token_repo: Generated, deploy_key: str
) -> None:
    generated, secret = (ssh_repo, deploy_key) if which == "ssh" else (token_repo, TOKEN)
    texts = committed_texts(generated.root)
    assert texts and not any(path.startswith("secrets/") for path in texts)
    printed = generated.run.stdout + generated.run.stderr
    for piece in fragments(secret):
        assert not [path for path, text in texts.items() if piece in text]
        assert piece not in printed


@pytest.mark.parametrize("which", ["ssh", "token"])
def test_a_credential_in_the_environment_sets_repo_auth_like_a_file(
    tmp_path: Path, deploy_key: str, which: str
) -> None:
    url, env, auth = (SSH_URL, KEY_ENV, "ssh") if which == "ssh" else (HTTPS_URL, TOKEN_ENV, "https")
    value = deploy_key if which == "ssh" else TOKEN
    generated = generate(
        tmp_path / "homelab", "--no-input", "--set", f"repo_url={url}", "--set", "secrets=manual",
        env={env: value},
    )  # fmt: skip
    assert generated.answers()["repo_auth"] == auth
    data = secret_doc(generated.root)["stringData"]
    assert data["url"] == url and value in data.values()
    for piece in fragments(value):
        assert piece not in generated.run.stdout + generated.run.stderr


def test_a_stated_repo_auth_wins_over_the_environment(tmp_path: Path, deploy_key: str) -> None:
    generated = generate(
        tmp_path / "homelab", "--no-input", "--set", f"repo_url={SSH_URL}",
        "--set", "repo_auth=none", "--set", "secrets=manual", env={KEY_ENV: deploy_key},
    )  # fmt: skip
    assert "repo_auth" not in generated.answers()
    assert not (generated.root / "secrets" / "argocd").exists()


def test_the_interactive_init_takes_repo_auth_from_the_environment(tmp_path: Path) -> None:
    from homelab_scaffold.catalog.loader import load_catalog
    from homelab_scaffold.commands.init_run import Credentials, given_auth

    given = given_auth(load_catalog(), Credentials(files={}, environ={TOKEN_ENV: TOKEN}))
    assert given is not None and (given.repo_auth, given.source) == ("https", TOKEN_ENV)


# ---------------------------------------------------------------------------------------------
# What init refuses (exit 2, one line, nothing written)


def test_credentials_in_the_environment_that_disagree_are_refused(
    tmp_path: Path, deploy_key: str
) -> None:
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={SSH_URL}",
                 env={KEY_ENV: deploy_key, TOKEN_ENV: TOKEN})  # fmt: skip
    line = refused(run, dest)
    assert KEY_ENV in line and TOKEN_ENV in line and "drop one of them" in line
    assert TOKEN not in run.stdout + run.stderr


def test_a_credential_in_the_environment_that_does_not_fit_the_url_is_refused(
    tmp_path: Path, deploy_key: str
) -> None:
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={HTTPS_URL}",
                 env={KEY_ENV: deploy_key})  # fmt: skip
    line = refused(run, dest)
    assert KEY_ENV in line and "repo_auth: ssh" in line and HTTPS_URL in line


@pytest.mark.parametrize(
    ("auth", "url", "example"),
    [
        ("ssh", HTTPS_URL, "git@github.com:you/homelab.git"),
        ("https", "git@github.com:you/homelab.git", "https://github.com/you/homelab.git"),
    ],
)
def test_repo_auth_that_does_not_fit_the_url_is_refused_naming_a_fitting_url(
    tmp_path: Path, auth: str, url: str, example: str
) -> None:
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={url}",
                 "--set", f"repo_auth={auth}")  # fmt: skip
    line = refused(run, dest)
    assert f"repo_auth: {auth} needs an {auth} repo_url such as {example}" in line


def refused(run: Any, dest: Path) -> str:
    assert run.exit_code == 2, run.stdout + run.stderr
    assert len(run.stderr_lines) == 1, run.stderr
    assert not dest.exists()
    line: str = run.stderr_lines[0]
    return line


@pytest.mark.parametrize("alias", ["repo_token", "repo_ssh_key", "argocd.repo_token"])
def test_credentials_on_the_command_line_are_refused(tmp_path: Path, alias: str) -> None:
    dest = tmp_path / "homelab"
    run = invoke(
        "init", dest, "--no-input", "--set", f"repo_url={HTTPS_URL}", "--set", "repo_auth=https",
        "--set", f"secrets.{alias}={TOKEN}",
    )  # fmt: skip
    line = refused(run, dest)
    assert "never taken from the command line" in line
    assert "SCAFFOLD_REPO" in line and "-file PATH" in line
    assert TOKEN not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("url", "args"),
    [
        (HTTPS_URL, ("--set", "repo_auth=ssh")),
        (SSH_URL, ("--set", "repo_auth=https")),
        ("ssh://git@git.lan:2222/alice/homelab.git", ("--set", "repo_auth=https")),
        ("http://git.lan/alice/homelab.git", ("--set", "repo_auth=https")),
        (SSH_URL, ("--repo-token-file", "TOKEN_FILE")),
        (HTTPS_URL, ("--set", "repo_auth=none", "--repo-token-file", "TOKEN_FILE")),
    ],
)
def test_credentials_that_do_not_fit_the_url_are_refused(
    tmp_path: Path, url: str, args: tuple[str, ...]
) -> None:
    token_file = key_file(tmp_path, TOKEN + "\n", "token")
    dest = tmp_path / "homelab"
    args = tuple(str(token_file) if a == "TOKEN_FILE" else a for a in args)
    line = refused(invoke("init", dest, "--no-input", "--set", f"repo_url={url}", *args), dest)
    assert "repo_auth" in line
    assert TOKEN not in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("PUBLIC", "is a public key"),
        ("ENCRYPTED", "passphrase-protected"),
        ("ENCRYPTED_OPENSSH", "passphrase-protected"),
        ("just some text\n", "does not look like an SSH private key"),
        ("", "does not look like an SSH private key"),
    ],
)
def test_a_key_file_that_is_no_usable_private_key_is_refused(
    tmp_path: Path, deploy_key: str, content: str, message: str
) -> None:
    makers = {
        "PUBLIC": lambda: public_key(deploy_key),
        "ENCRYPTED": encrypted_pkcs8_key,
        "ENCRYPTED_OPENSSH": encrypted_openssh_key,
    }
    text = makers[content]() if content in makers else content
    path = key_file(tmp_path, text)
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={SSH_URL}",
                 "--repo-ssh-key-file", path)  # fmt: skip
    line = refused(run, dest)
    assert message in line and str(path) in line
    for piece in fragments(text) if text.strip() else []:
        assert piece not in line


def test_a_key_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={SSH_URL}",
                 "--set", "repo_auth=ssh", env={KEY_ENV: "not a key"})  # fmt: skip
    line = refused(run, dest)
    assert KEY_ENV in line and "does not look like an SSH private key" in line


def test_missing_credentials_name_every_way_to_give_them(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    run = invoke("init", dest, "--no-input", "--set", f"repo_url={SSH_URL}",
                 "--set", "repo_auth=ssh", env={KEY_ENV: ""})  # fmt: skip
    line = refused(run, dest)
    assert "--repo-ssh-key-file PATH" in line and KEY_ENV in line


# ---------------------------------------------------------------------------------------------
# Later: list, set, rotate


def test_secret_commands_know_the_repository_credentials(
    tmp_path: Path, token_repo: Generated
) -> None:
    import shutil

    root = tmp_path / "homelab"
    shutil.copytree(token_repo.root, root, symlinks=True)
    commit_all(root, "init")
    listed = invoke("secret", "list", "-C", root)
    assert listed.exit_code == 0, listed.stderr
    assert "argocd.repo_token (provided by you): Secret argocd/homelab-repository" in listed.stdout
    assert TOKEN not in listed.stdout

    rotate = invoke("secret", "rotate", "repo_token", "-C", root)
    assert rotate.exit_code == 2
    assert "value you provide" in rotate.stderr and "scaffold secret set" in rotate.stderr

    new_token = "glpat-AnotherTokenValue987654321"
    token_path = key_file(tmp_path, new_token + "\n", "new-token")
    changed = invoke("secret", "set", "repo_token", "--value-from-file", token_path, "-C", root)
    assert changed.exit_code == 0, changed.stderr
    assert secret_doc(root)["stringData"]["password"] == new_token
    assert "kubectl apply -f secrets/argocd/" in changed.stdout + changed.stderr
    assert new_token not in changed.stdout + changed.stderr
    assert stat.S_IMODE((root / PLAINTEXT).stat().st_mode) == 0o600


def test_secret_set_reseals_a_new_deploy_key(tmp_path: Path, ssh_repo: Generated) -> None:
    import shutil

    root = tmp_path / "homelab"
    shutil.copytree(ssh_repo.root, root, symlinks=True)
    commit_all(root, "init")
    new_key = private_key()
    changed = invoke("secret", "set", "repo_ssh_key", "--value-from-file",
                     key_file(tmp_path, new_key, "new_key"), "-C", root)  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert unsealed(root)["sshPrivateKey"] == new_key.encode()
    assert secret_doc(root)["stringData"]["sshPrivateKey"] == new_key
    assert "commit and push the changed SealedSecret" in changed.stdout + changed.stderr
    tracked = read_tree(root)
    for piece in fragments(new_key):
        assert not [path for path, text in tracked.items() if piece in text]

    wrong = invoke("secret", "set", "repo_ssh_key", "--value-from-file",
                   key_file(tmp_path, public_key(new_key), "new_key.pub"), "-C", root)  # fmt: skip
    assert wrong.exit_code == 2 and "public key" in wrong.stderr


def test_base64_of_the_key_is_not_in_git_either(ssh_repo: Generated, deploy_key: str) -> None:
    encoded = base64.b64encode(deploy_key.encode()).decode()
    texts = read_tree(ssh_repo.root)
    assert not [path for path, text in texts.items() if encoded[10:60] in text]


def test_validate_reports_the_sealed_copy_without_its_later_wave(
    tmp_path: Path, ssh_repo: Generated
) -> None:
    import shutil

    root = tmp_path / "homelab"
    shutil.copytree(ssh_repo.root, root, symlinks=True)
    path = root / SEALED
    text = path.read_text()
    wave = yaml.safe_load(text)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    path.write_text(text.replace(f"argocd.argoproj.io/sync-wave: '{wave}'",
                                 "argocd.argoproj.io/sync-wave: '0'"))  # fmt: skip
    run = invoke("validate", "-C", root, "--offline")
    assert run.exit_code == 1
    assert "SealedSecret 'homelab-repository'" in run.stdout and "[ordering]" in run.stdout


def test_the_readme_changes_a_deploy_key_from_its_file(
    ssh_repo: Generated, token_repo: Generated
) -> None:
    """A private key is many lines: the guide names the file option, not a hidden prompt."""
    ssh_readme = " ".join((ssh_repo.root / "README.md").read_text().split())
    assert "`scaffold secret set repo_ssh_key --value-from-file KEYFILE`" in ssh_readme
    assert "repo_token" not in ssh_readme
    token_readme = " ".join((token_repo.root / "README.md").read_text().split())
    assert "`scaffold secret set repo_token --value-from-file TOKENFILE`" in token_readme


# ---------------------------------------------------------------------------------------------
# SSH host keys: Argo CD knows a few public hosts; any other server needs its keys given


GITEA_URL = "ssh://git@git.lan:2222/alice/homelab.git"
ARGOCD_VALUES = "kubernetes/system/argocd/values.yaml"


def host_key_line(pattern: str) -> str:
    """A known_hosts line for ``pattern`` with a fresh ed25519 host key."""
    key = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{pattern} {key.decode()}"


def test_argocd_ships_keys_for_exactly_the_hosts_scaffold_treats_as_known() -> None:
    from schema_check import helm_defaults

    from homelab_scaffold.generate.known_hosts import ARGOCD_KNOWN_HOSTS

    defaults = helm_defaults("argo-cd", "10.1.1")
    if defaults is None:
        pytest.skip("the argo-cd chart's default values are not held")
    lines = defaults["configs"]["ssh"]["knownHosts"].splitlines()
    assert {line.split()[0] for line in lines if line.strip()} == ARGOCD_KNOWN_HOSTS
    assert defaults["configs"]["ssh"]["extraHosts"] == ""


def test_known_hosts_from_a_file_reach_argocds_values(tmp_path: Path, deploy_key: str) -> None:
    from schema_check import helm_values_problems

    lines = [host_key_line("[git.lan]:2222"), host_key_line("[git.lan]:2222,[10.0.0.7]:2222")]
    hosts = tmp_path / "known_hosts"
    hosts.write_text(f"# git.lan:2222 SSH-2.0-OpenSSH\n{lines[0]}\n\n{lines[1]}  \n")
    root = git_init(tmp_path / "homelab")
    run = invoke(
        "init", root, "--no-input", "--set", f"repo_url={GITEA_URL}", "--set", "secrets=manual",
        "--repo-ssh-key-file", key_file(tmp_path, deploy_key), "--repo-known-hosts-file", hosts,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "no SSH host keys" not in run.stderr
    answers = yaml.safe_load((root / "scaffold.yaml").read_text())
    assert answers["repo_known_hosts"] == lines
    values = yaml.safe_load((root / ARGOCD_VALUES).read_text())
    assert values["configs"]["ssh"]["extraHosts"] == "\n".join(lines) + "\n"
    assert helm_values_problems("argo-cd", "10.1.1", values) == []
    readme = " ".join((root / "README.md").read_text().split())
    assert "with the host keys `repo_known_hosts` lists" in readme
    assert "ssh-keyscan" not in readme
    commit_all(root, "init")
    assert "Nothing to change" in invoke("regenerate", "-C", root).stdout


def test_an_unknown_ssh_host_without_keys_warns_and_the_readme_says_how(
    tmp_path: Path, deploy_key: str
) -> None:
    root = git_init(tmp_path / "homelab")
    run = invoke(
        "init", root, "--no-input", "--set", f"repo_url={GITEA_URL}", "--set", "secrets=manual",
        "--repo-ssh-key-file", key_file(tmp_path, deploy_key),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "Argo CD has no SSH host keys for [git.lan]:2222" in run.stderr
    assert "ssh-keyscan -p 2222 git.lan > known_hosts" in run.stderr
    readme = (root / "README.md").read_text()
    assert "ssh-keyscan -p 2222 git.lan > known_hosts" in readme
    assert "`repo_known_hosts:`" in readme and "scaffold regenerate" in readme
    assert "- '[git.lan]:2222 ssh-ed25519 AAAA...'" in readme
    assert "extraHosts" not in (root / ARGOCD_VALUES).read_text()


def test_a_host_argocd_knows_needs_no_keys(ssh_repo: Generated) -> None:
    readme = (ssh_repo.root / "README.md").read_text()
    assert "ssh-keyscan" not in readme and "repo_known_hosts" not in readme
    assert "repo_known_hosts" not in ssh_repo.answers()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (host_key_line("git.lan"), "is not for [git.lan]:2222 (it names git.lan)"),
        ("|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA", "hashed host"),
        ("[git.lan]:2222 ssh-ed25519 not-base64!", "not base64"),
        (host_key_line("[git.lan]:2222").replace("ssh-ed25519 ", "ssh-rsa ", 1), "not a ssh-rsa key"),
        ("[git.lan]:2222 ssh-foo AAAA", "key type 'ssh-foo'"),
        ("# only a comment\n", "expected a list of known_hosts lines"),
    ],
)
def test_bad_known_hosts_are_one_line_and_write_nothing(
    tmp_path: Path, deploy_key: str, text: str, fragment: str
) -> None:
    hosts = tmp_path / "known_hosts"
    hosts.write_text(text + "\n")
    root = tmp_path / "homelab"
    run = invoke(
        "init", root, "--no-input", "--set", f"repo_url={GITEA_URL}",
        "--repo-ssh-key-file", key_file(tmp_path, deploy_key), "--repo-known-hosts-file", hosts,
    )  # fmt: skip
    assert run.exit_code == 2, run.stderr
    assert len(run.stderr_lines) == 1, run.stderr
    line = run.stderr_lines[0]
    assert line.startswith("Error: --repo-known-hosts-file ") and fragment in line, line
    assert not root.exists() or not any(root.iterdir())


def test_known_hosts_need_an_ssh_repo_url(tmp_path: Path) -> None:
    hosts = tmp_path / "known_hosts"
    hosts.write_text(host_key_line("github.com") + "\n")
    run = invoke(
        "init", tmp_path / "homelab", "--no-input", "--set", f"repo_url={HTTPS_URL}",
        "--repo-known-hosts-file", hosts,
    )  # fmt: skip
    assert run.exit_code == 2 and len(run.stderr_lines) == 1, run.stderr
    assert "host keys are for an SSH repo_url" in run.stderr and HTTPS_URL in run.stderr


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("git@git.lan:alice/homelab.git", "git.lan"),
        ("ssh://git@Git.Lan/alice/homelab.git", "git.lan"),
        ("ssh://git@git.lan:2222/alice/homelab.git", "[git.lan]:2222"),
        ("ssh://git@git.lan:22/alice/homelab.git", "git.lan"),
        ("git@ssh.dev.azure.com:v3/org/project/repo", "ssh.dev.azure.com"),
    ],
)
def test_the_ssh_server_of_a_repository_url(url: str, pattern: str) -> None:
    from homelab_scaffold.generate.known_hosts import ssh_endpoint

    endpoint = ssh_endpoint(url)
    assert endpoint is not None and endpoint.pattern == pattern
    assert ssh_endpoint("https://git.lan/alice/homelab.git") is None


def test_hand_edited_known_hosts_for_another_host_are_refused(
    tmp_path: Path, deploy_key: str
) -> None:
    root = git_init(tmp_path / "homelab")
    run = invoke(
        "init", root, "--no-input", "--set", f"repo_url={GITEA_URL}", "--set", "secrets=manual",
        "--repo-ssh-key-file", key_file(tmp_path, deploy_key),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    commit_all(root, "init")
    path = root / "scaffold.yaml"
    text = path.read_text()
    path.write_text(text + f"repo_known_hosts:\n  - {host_key_line('git.example.org')}\n")
    commit_all(root, "keys")
    before = (root / ARGOCD_VALUES).read_text()
    run = invoke("regenerate", "-C", root)
    assert run.exit_code == 2 and len(run.stderr_lines) == 1, run.stderr
    assert "repo_known_hosts: line 1" in run.stderr and "is not for [git.lan]:2222" in run.stderr
    assert (root / ARGOCD_VALUES).read_text() == before
    # A line starting with [ must be quoted in YAML; the README says so.
    path.write_text(text + f"repo_known_hosts:\n  - '{host_key_line('[git.lan]:2222')}'\n")
    commit_all(root, "right keys")
    run = invoke("regenerate", "-C", root)
    assert run.exit_code == 0, run.stderr
    assert "no SSH host keys" not in run.stderr
    assert "extraHosts: |" in (root / ARGOCD_VALUES).read_text()
