"""Shell completion: what a TAB offers (through ``main()`` with click's completion variables),
that it never fails, prints errors or writes, that it stays cheap, and real bash, zsh and fish
sessions in a pseudo-terminal completing ``--set`` keys without a space after ``=``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from conftest import REPO_URL, Run, run_main, snapshot

from homelab_scaffold.catalog.loader import load_catalog

SMALL = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  traefik: {{}}
  cert-manager:
    issuer: letsencrypt-cloudflare
  vaultwarden: {{}}
  grafana:
    from: helm-app
    repo: https://grafana.github.io/helm-charts
    chart: grafana
    version: 8.5.0
"""
SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")


def complete(
    line: str, *, cwd: Path | None = None, shell: str = "bash", env: dict[str, str] | None = None
) -> Run:
    """What ``scaffold`` answers when ``shell`` asks to complete ``line`` (the cursor at its end)."""
    words = line.split(" ")
    variables = {"_SCAFFOLD_COMPLETE": f"{shell}_complete", **(env or {})}
    if shell == "bash":
        variables |= {"COMP_LINE": line, "COMP_CUR": bash_current_word(words[-1])}
    elif shell == "zsh":
        variables |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    else:
        variables |= {"COMP_WORDS": line, "COMP_CWORD": words[-1]}
    previous = Path.cwd()
    os.chdir(cwd or previous)
    try:
        return run_main(env=variables)
    finally:
        os.chdir(previous)


def bash_current_word(word: str) -> str:
    """The word bash completes: it splits at ``=`` and ``:`` (COMP_WORDBREAKS), and right after
    one of them the word is that character itself."""
    tail = re.split(r"[=:]", word)[-1]
    return tail or word[-1:]


def values(run: Run) -> list[str]:
    """The plain suggestions of a bash answer (``plain,VALUE`` lines)."""
    assert run.exit_code == 0 and run.stderr == "", run
    return [line.partition(",")[2] for line in run.stdout.splitlines() if line]


@pytest.fixture
def repo(make_committed: Callable[..., Path]) -> Path:
    return make_committed(SMALL, "--set", "secrets.cloudflare_api_token=cf-token-0123456789")


def test_commands_and_their_options() -> None:
    assert values(complete("scaffold ")) == sorted(
        ["add", "bootstrap", "completion", "diff", "graph", "init", "list", "outdated",
         "regenerate", "remove", "secret", "upgrade", "validate"]
    )
    assert values(complete("scaffold reg")) == ["regenerate"]
    assert values(complete("scaffold secret ")) == ["cert", "list", "rotate", "seal", "set"]
    assert "--dry-run" in values(complete("scaffold add longhorn --dr"))


def test_add_offers_every_catalog_component() -> None:
    offered = values(complete("scaffold add "))
    assert {"cert-manager", "longhorn", "helm-app", "vaultwarden"} <= set(offered)
    assert values(complete("scaffold add cert")) == ["cert-manager"]


def test_inside_a_repository_its_catalog_paths_components_are_offered(
    tmp_path: Path, repo: Path
) -> None:
    folder = repo / "catalog" / "homepage-dash"
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_text(
        "description: My dashboard.\noptions:\n  title: {type: string, help: Page title}\n"
    )
    answers = repo / "scaffold.yaml"
    answers.write_text(answers.read_text() + "catalog_paths: [./catalog]\n")
    assert "homepage-dash" in values(complete("scaffold add ", cwd=repo))
    assert values(complete(f"scaffold add -C {repo} homepage-dash --set ")) == ["title="]
    assert "homepage-dash" not in values(complete("scaffold add ", cwd=tmp_path))


def test_add_set_offers_options_in_both_forms_and_the_secrets_it_needs() -> None:
    longhorn = load_catalog().get("longhorn")
    offered = values(complete("scaffold add longhorn --set "))
    assert sorted(offered) == sorted(
        [f"{name}=" for name in longhorn.options]
        + [f"secrets.{p.short_name}=" for p in longhorn.provided_secrets]
    )
    assert {"replicas=", "version="} <= set(offered)
    assert values(complete("scaffold add longhorn --set components.longhorn.r")) == [
        "components.longhorn.replicas="
    ]
    assert "secrets.cloudflare_api_token=" in values(complete("scaffold add cert-manager --set "))
    assert values(complete("scaffold add helm-app grafana --set v")) == ["version="]


def test_add_set_offers_the_full_form_from_components_on() -> None:
    homepage = load_catalog().get("homepage")
    full = sorted(f"components.homepage.{name}=" for name in homepage.options)
    assert sorted(values(complete("scaffold add homepage --set components."))) == full
    assert sorted(values(complete("scaffold add homepage --set comp"))) == full
    assert values(complete("scaffold add homepage --set components.homepage.ti")) == [
        "components.homepage.title="
    ]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_set_typed_with_an_equals_sign_completes_its_value(shell: str) -> None:
    # click completes the value after "--set="; the shell replaces the whole word (bash from
    # the "=" on), so a suggestion must keep what was typed before it.
    def offered(line: str) -> list[str]:
        run = complete(line, shell=shell)
        assert run.exit_code == 0 and run.stderr == "", run
        if shell == "zsh":  # type, value, description: three lines each
            return run.stdout.splitlines()[1::3]
        return [row.partition(",")[2].partition("\t")[0] for row in run.stdout.splitlines()]

    def word(whole: str, bash_word: str) -> list[str]:
        return [bash_word if shell == "bash" else whole]

    assert offered("scaffold add homepage --set=components.homepage.ti") == word(
        "--set=components.homepage.title=", "components.homepage.title="
    )
    assert offered("scaffold add homepage --set=ti") == word("--set=title=", "title=")
    assert offered("scaffold add cert-manager --set=issuer=letsencrypt-c") == word(
        "--set=issuer=letsencrypt-cloudflare", "letsencrypt-cloudflare"
    )
    assert offered("scaffold init x --set=components.longhorn.rep") == word(
        "--set=components.longhorn.replicas=", "components.longhorn.replicas="
    )


def test_option_values_after_the_equals_sign_are_cut_where_bash_splits() -> None:
    # bash splits "issuer=lets" into "issuer", "=", "lets" and replaces only the last word.
    assert values(complete("scaffold add cert-manager --set issuer=lets")) == [
        "letsencrypt-http01", "letsencrypt-cloudflare"
    ]
    assert values(complete("scaffold add cert-manager --set issuer=")) == [
        "=selfsigned", "=letsencrypt-http01", "=letsencrypt-cloudflare"
    ]
    assert values(complete("scaffold init x --set components.longhorn.replicas=")) == []


def test_init_set_goes_step_by_step() -> None:
    first = values(complete("scaffold init x --set "))
    assert {"domain=", "repo_url=", "components.", "secrets."} <= set(first)
    assert "components.cert-manager." in values(complete("scaffold init x --set components.c"))
    assert values(complete("scaffold init x --set components.cert-manager.i")) == [
        "components.cert-manager.issuer="
    ]
    catalog = load_catalog()
    provided = {f"secrets.{p.short_name}=" for p in catalog.provided_secrets if p.command_line}
    assert "secrets.cloudflare_api_token=" in provided
    assert sorted(values(complete("scaffold init x --set secrets."))) == sorted(provided)
    # Credentials are refused on the command line, so they are never offered there.
    assert "secrets.repo_token=" not in provided
    assert {p.short_name for p in catalog.provided_secrets} >= {"repo_token", "repo_ssh_key"}
    assert values(complete("scaffold init x --set secrets=m")) == ["manual"]


def test_remove_upgrade_and_secrets_come_from_scaffold_yaml(repo: Path) -> None:
    listed = values(complete(f"scaffold remove -C {repo} "))
    assert {"traefik", "cert-manager", "vaultwarden", "grafana", "argocd"} <= set(listed)
    assert "longhorn" in listed  # vaultwarden needs it, so init listed it
    chart = values(complete(f"scaffold upgrade -C {repo} "))
    assert "grafana" in chart and "traefik" in chart and "test-app" not in chart
    secrets = values(complete(f"scaffold secret set -C {repo} "))
    assert {"vaultwarden.admin_token", "cert-manager.cloudflare_api_token",
            "cloudflare_api_token"} <= set(secrets)
    rotatable = values(complete(f"scaffold secret rotate -C {repo} "))
    assert "vaultwarden" in rotatable and "vaultwarden.admin_token" in rotatable
    assert not any("cloudflare" in name for name in rotatable)  # provided: cannot be generated


def test_a_provided_secret_is_offered_only_when_its_condition_holds(
    make_committed: Callable[..., Path],
) -> None:
    repo = make_committed(f"repo_url: {REPO_URL}\ncomponents:\n  cert-manager: {{}}\n")
    assert values(complete(f"scaffold secret set -C {repo} ")) == []


def test_repository_credentials_are_offered_when_repo_auth_needs_them(
    make_committed: Callable[..., Path], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("token-0123456789\n")
    answers = f"repo_url: {REPO_URL}\nsecrets: manual\ncomponents: {{}}\n"
    repo = make_committed(answers, "--repo-token-file", str(token))
    assert values(complete(f"scaffold secret set -C {repo} ")) == [
        "argocd.repo_token", "repo_token"
    ]  # fmt: skip
    assert values(complete(f"scaffold secret rotate -C {repo} ")) == []


def test_zsh_and_fish_get_descriptions() -> None:
    zsh = complete("scaffold add cert", shell="zsh")
    assert zsh.exit_code == 0
    assert zsh.stdout.splitlines()[:2] == ["plain", "cert-manager"]
    assert "ClusterIssuer" in zsh.stdout.splitlines()[2]
    fish = complete("scaffold add cert", shell="fish")
    assert fish.stdout.startswith("plain,cert-manager\tcert-manager with a ClusterIssuer")


def test_completion_never_fails_prints_or_writes(tmp_path: Path, repo: Path) -> None:
    (repo / "scaffold.yaml").write_bytes(b"\x00\xff garbage: [unclosed\n")
    broken = repo / "catalog" / "broken"
    broken.mkdir(parents=True)
    (broken / "component.yaml").write_text("options: [not, a, mapping\n")
    cache = tmp_path / "cache"
    before = snapshot(repo)
    for line in (
        f"scaffold add -C {repo} ",
        f"scaffold remove -C {repo} ",
        f"scaffold secret set -C {repo} ",
        f"scaffold add -C {repo} longhorn --set ",
        "scaffold add nosuch --set ",
        f"scaffold upgrade -C {tmp_path / 'missing'} ",
    ):
        run = complete(line, env={"XDG_CACHE_HOME": str(cache)})
        assert run.exit_code == 0 and run.stderr == "", (line, run)
    assert "longhorn" in values(complete(f"scaffold add -C {repo} "))
    assert snapshot(repo) == before
    assert not cache.exists()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_command_prints_clicks_source_script(shell: str) -> None:
    command = run_main("completion", shell)
    assert command.exit_code == 0 and command.stderr == ""
    source = run_main(env={"_SCAFFOLD_COMPLETE": f"{shell}_source"})
    assert source.exit_code == 0
    assert command.stdout.strip() == source.stdout.strip()
    assert "_SCAFFOLD_COMPLETE" in command.stdout and f"{shell}_complete" in command.stdout


@pytest.mark.parametrize(
    "line",
    [None, "scaffold ", "scaffold add ", "scaffold add longhorn --set ", "scaffold remove ",
     "scaffold secret set ", "scaffold init x --set components."],
)
def test_completion_and_help_import_no_renderer(line: str | None) -> None:
    """``--help`` and a TAB load neither Jinja nor ruamel.yaml (nor the engine): the commands
    are declared in modules that import their work only when they run."""
    probe = (
        "import sys\n"
        "from homelab_scaffold.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "import homelab_scaffold.completion\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('jinja2', 'ruamel') or m.endswith('engine'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    args = ["--help"] if line is None else []
    extra = {} if line is None else {"_SCAFFOLD_COMPLETE": "bash_complete", "COMP_LINE": line}
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        env={**os.environ, **extra},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "HEAVY []" in done.stderr, done.stderr


# ---------------------------------------------------------------------------------------------
# Real shells in a pseudo-terminal

def shell_session(program: str, args: list[str], setup: str, cwd: Path) -> pexpect.spawn:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    if not SCAFFOLD_EXE.exists():
        pytest.skip(f"{SCAFFOLD_EXE} is not installed")
    home = cwd / f".{program}-home"
    home.mkdir()
    env = {
        "PATH": f"{SCAFFOLD_EXE.parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "INPUTRC": "/dev/null",
    }
    child = pexpect.spawn(program, args, env=env, cwd=str(cwd), encoding="utf-8", timeout=20,
                          dimensions=(40, 250))
    child.sendline(f"{setup}; echo READY-'4'2")
    child.expect("READY-42")
    return child


def run_typed(child: pexpect.spawn, keys: str) -> str:
    """Type ``keys`` (TABs included) and Enter; the arguments the command line ended up with.

    ``scaffold`` is a shell function there that prints its arguments; the completion scripts
    run the real executable through ``env``, so completing still asks scaffold."""
    child.send(keys)
    time.sleep(3)  # each TAB runs scaffold; give it time on a busy machine
    child.send("\r")
    child.expect(r"ARGS:\[(.*)\]")
    arguments: str = child.match.group(1)
    return arguments


ECHO_ARGS = "scaffold() { printf 'ARGS:[%s]\\n' \"$*\"; }"
SHELLS = [
    ("bash", ["--norc", "--noprofile", "-i"],
     f'PS1="$ "; eval "$(scaffold completion bash)"; {ECHO_ARGS}'),
    ("zsh", ["-f", "-i"],
     'PS1="$ "; autoload -Uz compinit && compinit -u; eval "$(scaffold completion zsh)"; '
     + ECHO_ARGS),
    ("fish", ["--no-config", "-i"],
     "scaffold completion fish | source; "
     "function scaffold; printf 'ARGS:[%s]\\n' \"$argv\"; end"),
]


@pytest.mark.parametrize(("program", "args", "setup"), SHELLS, ids=[s[0] for s in SHELLS])
def test_a_real_shell_completes_set_keys_without_a_space(
    tmp_path: Path, program: str, args: list[str], setup: str
) -> None:
    child = shell_session(program, args, setup, tmp_path)
    typed = run_typed(child, "scaffold add longhorn --set components.longhorn.rep\t2 --dry-r\t")
    assert typed == "add longhorn --set components.longhorn.replicas=2 --dry-run"
    assert run_typed(child, "scaffold add cert-m\t--dry-run") == "add cert-manager --dry-run"
    typed = run_typed(child, "scaffold add homepage --set=components.homepage.ti\tHome")
    assert typed == "add homepage --set=components.homepage.title=Home"
    child.sendline("exit")
    child.expect(pexpect.EOF)
