"""Interactive ``scaffold init`` through a real pseudo-terminal (pexpect drives the installed
executable): answer the prompts and check the files; Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest
import yaml
from conftest import git_init, snapshot, yaml_documents

from homelab_scaffold.catalog.loader import load_catalog

SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")
pytestmark = pytest.mark.skipif(
    not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed next to {sys.executable}"
)

CTRL_C = "\x03"
CTRL_U = "\x15"  # erase the pre-filled default of a text prompt
ENTER = "\r"
SPACE = " "
DOWN = "j"
TOGGLE_ALL = "a"
TIMEOUT = 30


def spawn(
    dest: Path, *args: str, env_extra: dict[str, str] | None = None
) -> pexpect.spawn:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCAFFOLD_REPO_")},
        "TERM": "xterm",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # no cursor-position queries a pty would never answer
        "NO_COLOR": "1",
        **(env_extra or {}),
    }
    return pexpect.spawn(
        str(SCAFFOLD_EXE),
        ["init", str(dest), *args],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(50, 250),
    )


def answer_text(child: pexpect.spawn, prompt: str, value: str | None) -> None:
    """Wait for a text prompt; keep its default (None) or replace it with ``value``."""
    child.expect(prompt)
    child.send(ENTER if value is None else CTRL_U + value + ENTER)


def answer_globals(
    child: pexpect.spawn,
    *,
    domain: str | None = None,
    email: str | None = None,
    repo_url: str | None = "https://github.com/bob/homelab.git",
    secrets_mode: int = 0,
    private: bool = False,
    username: str | None = None,
) -> None:
    """The global questions; ``None`` keeps a default, ``secrets_mode`` is the choice's index
    (0: sealed-secrets, the default; 1: manual); ``private`` picks the repository credentials
    the URL allows (``username`` is asked for a token)."""
    answer_text(child, "Base domain", domain)
    answer_text(child, "e-mail", email)
    answer_text(child, "Git URL", repo_url)
    answer_repo_auth(child, private, username)
    answer_text(child, "Branch", None)
    child.expect("How do Secrets reach the cluster")
    child.send(DOWN * secrets_mode + ENTER)


def answer_repo_auth(child: pexpect.spawn, private: bool, username: str | None = None) -> None:
    """Public (the default) or private; a token's user name when asked."""
    child.expect("Is the repository private")
    child.send(DOWN + ENTER if private else ENTER)
    if private and username is not None:
        answer_text(child, "User name sent with the token", username)


def pick_components(child: pexpect.spawn, wanted: set[str], *, sealing: bool = True) -> None:
    """In the components checkbox: clear every box, then tick exactly ``wanted``."""
    child.expect("Components")
    # The checkbox shows the components group by group (the pointer skips the group titles).
    choices = [
        c.name
        for _, members in load_catalog().by_group()
        for c in members
        if c.name != "argocd" and not c.generic
    ]
    child.expect(choices[-1])  # the whole list is drawn
    # 'a' ticks every box unless all are ticked, then it clears them. Only the default stack
    # starts ticked (and without sealing not even the sealed-secrets controller).
    starts_all_ticked = sealing and all(load_catalog().get(n).in_default_stack for n in choices)
    if not starts_all_ticked:
        child.send(TOGGLE_ALL)  # tick all ...
    child.send(TOGGLE_ALL)  # ... then none
    for index, name in enumerate(choices):
        if name in wanted:
            child.send(SPACE)
        if index < len(choices) - 1:
            child.send(DOWN)
    child.send(ENTER)


def option_prompt(component: str, option: str) -> str:
    """A pattern for the prompt of one component option (its label starts with the help text,
    which the components checkbox never shows, so a redraw of the checkbox cannot match)."""
    help_text = load_catalog().get(component).options[option].help
    return re.escape(f"{component}: {help_text[:30]}")


def accept_prompted_options(child: pexpect.spawn, components: list[str]) -> None:
    """Keep the default of every prompted option of ``components``, in the order asked."""
    catalog = load_catalog()
    for name in components:
        for option in catalog.get(name).options.values():
            if option.prompt:
                child.expect(option_prompt(name, option.name))
                child.send(ENTER)


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    output: str = child.before
    return output


def test_answering_the_prompts_writes_the_repository(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    child = spawn(dest)
    answer_globals(child, domain="home.example.net", email="bob@example.net", secrets_mode=1)
    pick_components(child, {"metallb", "test-app"}, sealing=False)
    answer_text(child, option_prompt("metallb", "addresses"), "10.0.20.200-10.0.20.240")
    output = finish(child)
    assert child.exitstatus == 0, output

    answers = yaml.safe_load((dest / "scaffold.yaml").read_text())
    assert answers["domain"] == "home.example.net"
    assert answers["email"] == "bob@example.net"
    assert answers["repo_url"] == "https://github.com/bob/homelab.git"
    assert answers["target_revision"] == "main"
    assert answers["secrets"] == "manual"
    assert set(answers["components"]) == {"argocd", "metallb", "traefik", "test-app"}
    assert "added because others need them: traefik (for test-app)" in output
    pool_file = dest / "kubernetes/system/metallb-config/ipaddresspool.yaml"
    (pool,) = [d for d in yaml_documents(pool_file.read_text()) if d["kind"] == "IPAddressPool"]
    assert pool["spec"]["addresses"] == ["10.0.20.200-10.0.20.240"]
    ingress = (dest / "kubernetes/system/test-app/ingress.yml").read_text()
    assert "test.home.example.net" in ingress


def test_a_bad_answer_is_refused_and_asked_again(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    child = spawn(dest)
    answer_text(child, "Base domain", "not a domain")
    child.expect("expected a domain name")
    child.send(CTRL_U + "lab.example.org" + ENTER)
    answer_text(child, "e-mail", None)
    answer_text(child, "Git URL", "https://github.com/bob/homelab.git")
    answer_repo_auth(child, private=False)
    answer_text(child, "Branch", None)
    child.expect("How do Secrets reach the cluster")
    child.send(ENTER)
    pick_components(child, {"cert-manager"})
    accept_prompted_options(child, ["cert-manager"])
    output = finish(child)
    assert child.exitstatus == 0, output
    answers = yaml.safe_load((dest / "scaffold.yaml").read_text())
    assert answers["domain"] == "lab.example.org"
    assert set(answers["components"]) == {"argocd", "cert-manager"}


def test_the_git_origin_is_the_offered_repo_url(tmp_path: Path) -> None:
    origin = "git@github.com:bob/homelab.git"
    dest = git_init(tmp_path / "homelab", origin=origin)
    child = spawn(dest)
    answer_globals(child, repo_url=None)
    pick_components(child, set())
    output = finish(child)
    assert child.exitstatus == 0, output
    assert yaml.safe_load((dest / "scaffold.yaml").read_text())["repo_url"] == origin


def test_a_private_repository_asks_for_the_deploy_key_file(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    key_file = tmp_path / "deploy_key"
    key_file.write_text(key)
    (tmp_path / "deploy_key.pub").write_text("ssh-ed25519 AAAAC3Nza bob@laptop\n")
    dest = tmp_path / "homelab"
    child = spawn(dest)
    answer_globals(child, repo_url="git@github.com:bob/homelab.git", private=True, secrets_mode=1)
    pick_components(child, set(), sealing=False)
    child.expect("argocd.repo_ssh_private_key: path of")
    child.send(str(tmp_path / "deploy_key.pub") + ENTER)
    child.expect("is a public key")  # asked again
    child.send(CTRL_U + str(key_file) + ENTER)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert yaml.safe_load((dest / "scaffold.yaml").read_text())["repo_auth"] == "ssh"
    (secret,) = yaml_documents((dest / "secrets/argocd/repository.yaml").read_text())
    assert secret["stringData"]["sshPrivateKey"] == key
    assert not [line for line in key.splitlines()[1:-1] if line in output]


def ssh_key_file(folder: Path) -> tuple[Path, str]:
    """A fresh unencrypted ed25519 deploy key written to ``folder/deploy_key``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    path = folder / "deploy_key"
    path.write_text(key)
    path.chmod(0o600)
    return path, key


def test_a_key_file_option_answers_the_private_question(tmp_path: Path) -> None:
    key_file, key = ssh_key_file(tmp_path)
    dest = tmp_path / "homelab"
    child = spawn(dest, "--repo-ssh-key-file", str(key_file))
    answer_text(child, "Base domain", None)
    answer_text(child, "e-mail", None)
    # An HTTPS URL cannot carry a deploy key: refused at the question, asked again.
    answer_text(child, "Git URL", "https://github.com/bob/homelab.git")
    child.expect("--repo-ssh-key-file needs an ssh URL")
    child.send(CTRL_U + "git@github.com:bob/homelab.git" + ENTER)
    # Neither "Is the repository private?" nor the key file's path is asked.
    index = child.expect(["Is the repository private", "Branch"])
    assert index == 1, "asked whether the repository is private despite --repo-ssh-key-file"
    child.send(ENTER)
    child.expect("How do Secrets reach the cluster")
    child.send(DOWN + ENTER)
    pick_components(child, set(), sealing=False)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert "path of" not in output
    answers = yaml.safe_load((dest / "scaffold.yaml").read_text())
    assert (answers["repo_auth"], answers["repo_url"]) == ("ssh", "git@github.com:bob/homelab.git")
    (secret,) = yaml_documents((dest / "secrets/argocd/repository.yaml").read_text())
    assert secret["stringData"]["sshPrivateKey"] == key


def test_a_token_in_the_environment_answers_the_private_question(tmp_path: Path) -> None:
    token = "ghp_EnvironmentTok3nValue0123456789"
    dest = tmp_path / "homelab"
    child = spawn(dest, env_extra={"SCAFFOLD_REPO_TOKEN": token})
    answer_text(child, "Base domain", None)
    answer_text(child, "e-mail", None)
    answer_text(child, "Git URL", "https://github.com/bob/homelab.git")
    # The token's user name is still asked (the environment does not say it); the token is not.
    index = child.expect(["Is the repository private", "User name sent with the token"])
    assert index == 1, "asked whether the repository is private despite SCAFFOLD_REPO_TOKEN"
    child.send(CTRL_U + "bob" + ENTER)
    answer_text(child, "Branch", None)
    child.expect("How do Secrets reach the cluster")
    child.send(DOWN + ENTER)
    pick_components(child, set(), sealing=False)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert "hidden input" not in output and token not in output
    answers = yaml.safe_load((dest / "scaffold.yaml").read_text())
    assert (answers["repo_auth"], answers["repo_username"]) == ("https", "bob")
    (secret,) = yaml_documents((dest / "secrets/argocd/repository.yaml").read_text())
    assert (secret["stringData"]["username"], secret["stringData"]["password"]) == ("bob", token)


def test_a_token_is_asked_with_hidden_input(tmp_path: Path) -> None:
    token = "ghp_InteractiveTok3nValue0123456789"
    dest = tmp_path / "homelab"
    child = spawn(dest)
    answer_globals(child, private=True, username="bob", secrets_mode=1)
    pick_components(child, set(), sealing=False)
    child.expect(r"argocd.repo_token: .*\(hidden input\)")
    child.send(token + ENTER)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert token not in output
    (secret,) = yaml_documents((dest / "secrets/argocd/repository.yaml").read_text())
    assert (secret["stringData"]["username"], secret["stringData"]["password"]) == ("bob", token)


@pytest.mark.parametrize("at", ["Base domain", "Components"])
@pytest.mark.parametrize("dest_kind", ["missing", "empty git repo"])
def test_ctrl_c_during_a_prompt_leaves_nothing_behind(
    tmp_path: Path, at: str, dest_kind: str
) -> None:
    dest = tmp_path / "homelab"
    if dest_kind == "empty git repo":
        git_init(dest, origin="https://github.com/bob/homelab.git")
    before = snapshot(tmp_path)
    child = spawn(dest)
    if at == "Components":
        answer_globals(child)
    child.expect(at)
    child.send(CTRL_C)
    output = finish(child)
    assert child.exitstatus not in (0, None) or child.signalstatus is not None, output
    assert "Traceback" not in output
    assert snapshot(tmp_path) == before


def test_prompts_cover_components_added_as_dependencies(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    child = spawn(dest)
    child.timeout = 10
    answer_globals(child)
    pick_components(child, {"test-app"})
    answer_text(child, option_prompt("metallb", "addresses"), "10.0.20.200-10.0.20.240")
    finish(child)
    assert child.exitstatus == 0


def test_every_offered_component_can_be_picked(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    child = spawn(dest)
    answer_globals(child, secrets_mode=1)
    child.expect("Components")
    choices = [
        n for n, c in load_catalog().components.items() if n != "argocd" and not c.generic
    ]
    child.expect(choices[-1])
    child.send(TOGGLE_ALL)  # every box ticked
    child.send(ENTER)
    accept_prompted_options(child, ["argocd", *choices])
    output = finish(child)
    assert child.exitstatus == 0, output
