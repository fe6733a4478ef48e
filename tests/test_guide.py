"""The generated guide: Traefik's address from MetalLB's pool, the README that takes a user from
zero (push, kubeconfig, DNS, the CA, the UIs, backups, stuck waves), and HOMELAB.md beside a
README of the user's own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_URL, Run, commit_all, git_init, invoke, snapshot

from homelab_scaffold.generate.answers import parse_answers
from homelab_scaffold.generate.pipeline import load_catalog_for, render_answers
from homelab_scaffold.generate.skeleton import GUIDE_LINK

ANNOTATION = "metallb.io/loadBalancerIPs"
TRAEFIK_VALUES = "kubernetes/system/traefik/values.yaml"
USER_README = "# Our homelab\n\nNotes of our own: the NAS is at 10.0.0.5.\n"
LINK_LINE = GUIDE_LINK.format(path="HOMELAB.md")
# The user's README after init: every byte of theirs, then one line linking the guide.
LINKED_README = f"{USER_README}\n{LINK_LINE}\n"


def rendered(components: dict[str, dict[str, Any]], **extra: Any) -> dict[str, str]:
    """The tracked files a scaffold.yaml with these components renders (no secret values)."""
    mapping = {"repo_url": REPO_URL, "domain": "lab.example.com", "components": components}
    answers = parse_answers({**mapping, **extra}, "scaffold.yaml")
    return render_answers(answers, load_catalog_for(answers, None), secrets=None).files


def readme(components: dict[str, dict[str, Any]], **extra: Any) -> str:
    return rendered(components, **extra)["README.md"]


def section(text: str, title: str) -> str:
    """The body of the README's ``## title`` section ("" when there is none)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\n{run.stdout}\n{run.stderr}"
    return run


def one_line_error(run: Run, *fragments: str) -> str:
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert len(run.stderr_lines) == 1 and run.stderr_lines[0].startswith("Error: "), run.stderr
    for fragment in fragments:
        assert fragment in run.stderr_lines[0]
    return run.stderr_lines[0]


# ---------------------------------------------------------------------------------------------
# Traefik's address: inside MetalLB's pool, the pool's first address by default


@pytest.mark.parametrize(
    ("pool", "first"),
    [
        (["192.168.1.240-192.168.1.250"], "192.168.1.240"),
        (["10.0.20.0/24"], "10.0.20.1"),  # a CIDR's first host, not its network address
        (["10.0.30.7/32"], "10.0.30.7"),
        (["10.0.1.10-10.0.1.20", "10.0.0.0/28"], "10.0.1.10"),  # the first range of several
        (["fd00:10::/120"], "fd00:10::1"),
    ],
)
def test_load_balancer_ip_defaults_to_the_first_address_of_the_pool(
    pool: list[str], first: str
) -> None:
    values = yaml.safe_load(rendered({"traefik": {}, "metallb": {"addresses": pool}})[TRAEFIK_VALUES])
    assert values["service"]["annotations"] == {ANNOTATION: first}
    assert f"**{first}**" in section(readme({"traefik": {}, "metallb": {"addresses": pool}}),
                                     "DNS: point `*.lab.example.com` at Traefik")


@pytest.mark.parametrize("address", ["10.0.0.20", "10.0.1.20", "192.168.1.240"])
def test_an_explicit_load_balancer_ip_inside_any_range_of_the_pool_is_kept(address: str) -> None:
    pool = ["10.0.0.16/28", "10.0.1.10-10.0.1.20"]
    if address == "192.168.1.240":
        pool = ["192.168.1.240/32"]
    files = rendered({"traefik": {"load_balancer_ip": address}, "metallb": {"addresses": pool}})
    assert yaml.safe_load(files[TRAEFIK_VALUES])["service"]["annotations"] == {ANNOTATION: address}


def test_init_writes_the_default_address_into_scaffold_yaml(tmp_path: Path) -> None:
    dest = tmp_path / "lab"
    ok(invoke("init", dest, "--no-input", "--set", "components.metallb.addresses=10.0.20.0/24"))
    answers = yaml.safe_load((dest / "scaffold.yaml").read_text())
    assert answers["components"]["traefik"]["load_balancer_ip"] == "10.0.20.1"


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.251", "fd00::1"])
def test_init_refuses_an_address_outside_the_pool_and_writes_nothing(
    tmp_path: Path, address: str
) -> None:
    before = snapshot(tmp_path)
    run = invoke(
        "init", tmp_path / "lab", "--no-input",
        "--set", f"components.traefik.load_balancer_ip={address}",
    )
    one_line_error(run, address, "192.168.1.240-192.168.1.250", "load_balancer_ip")
    assert snapshot(tmp_path) == before


def committed_lab(tmp_path: Path, components: str) -> Path:
    """A repository made by init from ``components`` (scaffold.yaml's text), committed."""
    config = tmp_path / "answers.yaml"
    config.write_text(
        f"repo_url: {REPO_URL}\ndomain: lab.example.com\nsecrets: manual\n"
        f"components:\n{components}",
        encoding="utf-8",
    )
    root = tmp_path / "lab"
    ok(invoke("init", root, "--config", config))
    git_init(root)
    commit_all(root, "init")
    return root


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return committed_lab(tmp_path, "  traefik: {}\n  test-app: {}\n")


def test_regenerate_refuses_a_hand_edited_address_outside_the_pool(small: Path) -> None:
    path = small / "scaffold.yaml"
    text = path.read_text()
    path.write_text(text.replace("load_balancer_ip: 192.168.1.240", "load_balancer_ip: 10.9.9.9"))
    commit_all(small, "hand edit")
    before = snapshot(small)
    one_line_error(invoke("regenerate", "-C", small), "10.9.9.9", "192.168.1.240-192.168.1.250")
    assert snapshot(small) == before


def test_add_refuses_an_address_outside_the_pool(tmp_path: Path) -> None:
    root = committed_lab(tmp_path, "  metallb:\n    addresses: [10.0.20.0/28]\n")
    before = snapshot(root)
    run = invoke("add", "traefik", "-C", root, "--set", "load_balancer_ip=10.0.20.16")
    one_line_error(run, "10.0.20.16", "10.0.20.0/28", "10.0.20.1)")
    assert snapshot(root) == before
    ok(invoke("add", "traefik", "-C", root, "--set", "load_balancer_ip=10.0.20.15"))
    answers = yaml.safe_load((root / "scaffold.yaml").read_text())
    assert answers["components"]["traefik"]["load_balancer_ip"] == "10.0.20.15"


def test_validate_reports_a_hand_edited_address_outside_the_pool(small: Path) -> None:
    path = small / "scaffold.yaml"
    text = path.read_text()
    assert text.count("load_balancer_ip: 192.168.1.240") == 1
    path.write_text(text.replace("load_balancer_ip: 192.168.1.240", "load_balancer_ip: 10.9.9.9"))
    run = invoke("validate", "-C", small, "--offline", "--output", "json")
    assert run.exit_code == 1, run.stderr
    problems = json.loads(run.stdout)["problems"]
    answers = [p for p in problems if p["file"] == "scaffold.yaml" and p["check"] == "answers"]
    assert len(answers) == 1
    assert "10.9.9.9" in answers[0]["message"]
    assert "192.168.1.240-192.168.1.250" in answers[0]["message"]


def test_regenerate_of_a_repository_without_an_address_pins_the_default(small: Path) -> None:
    """A repository from before the address was pinned: regenerate writes the pool's first
    address into scaffold.yaml, and the annotation into Traefik's values; then nothing."""
    path = small / "scaffold.yaml"
    text = path.read_text()
    path.write_text(text.replace("    load_balancer_ip: 192.168.1.240\n", ""))
    commit_all(small, "older scaffold.yaml")
    ok(invoke("regenerate", "-C", small))
    assert path.read_text() == text
    again = ok(invoke("regenerate", "-C", small))
    assert "Nothing to change" in again.stdout


# ---------------------------------------------------------------------------------------------
# The README: from zero to a running cluster


FULL = {
    "metallb": {"addresses": ["10.0.20.100-10.0.20.120"]},
    "traefik": {},
    "longhorn": {},
    "cert-manager": {"issuer": "selfsigned"},
    "authelia": {},
    "vaultwarden": {},
    "test-app": {},
    "homepage": {},
}


def test_the_readme_pushes_gets_a_kubeconfig_and_points_dns_at_the_concrete_address() -> None:
    text = readme(FULL)
    push = section(text, "Push this repository")
    assert f"git remote add origin {REPO_URL}" in push
    assert "git push -u origin HEAD:main" in push
    bootstrap = section(text, "Bootstrap (once)")
    assert "/etc/rancher/k3s/k3s.yaml" in bootstrap
    assert 's/127.0.0.1/$SERVER/' in bootstrap and "export KUBECONFIG=" in bootstrap
    dns = section(text, "DNS: point `*.lab.example.com` at Traefik")
    assert "**10.0.20.100**" in dns
    assert "address=/lab.example.com/10.0.20.100" in dns
    assert "`*.lab.example.com` -> `10.0.20.100`" in dns
    hosts_line = next(line.strip() for line in dns.splitlines() if line.strip().startswith("10.0."))
    assert hosts_line.split() == [
        "10.0.20.100",
        "argocd.lab.example.com",
        "auth.lab.example.com",
        "home.lab.example.com",
        "longhorn.lab.example.com",
        "test.lab.example.com",
        "vault.lab.example.com",
    ]
    assert "ExternalDNS" not in dns and "Cloudflare Tunnel" not in dns


def test_the_readme_with_a_placeholder_repo_url_says_to_set_it_first() -> None:
    mapping = {"domain": "lab.example.com", "components": {"traefik": {}}}
    answers = parse_answers(mapping, "scaffold.yaml")
    text = render_answers(answers, load_catalog_for(answers, None), secrets=None).files["README.md"]
    assert "still a placeholder" in section(text, "Push this repository")
    assert "still a placeholder" not in section(readme({"traefik": {}}), "Push this repository")


def test_the_ui_table_lists_every_selected_ui_with_its_host_and_login() -> None:
    text = readme({**FULL, "vaultwarden": {"hostname": "pw"}})
    rows = {
        cells[0]: cells[1:]
        for line in section(text, "Web UIs").splitlines()
        if line.startswith("| ") and not line.startswith("| UI ")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert rows == {
        "Argo CD": ["<https://argocd.lab.example.com/>", "no: its own login"],
        "Authelia": ["<https://auth.lab.example.com/>", "this is the login"],
        "Homepage": ["<https://home.lab.example.com/>", "yes"],
        "Longhorn": ["<https://longhorn.lab.example.com/>", "yes"],
        "Test app": ["<https://test.lab.example.com/>", "yes"],
        "Vaultwarden": ["<https://pw.lab.example.com/>", "only /admin; the rest: its own login"],
    }
    assert "| UI | URL | behind the Authelia login |" in text


def test_the_ui_table_without_authelia_has_no_login_column_and_says_what_is_unreachable() -> None:
    components = {k: v for k, v in FULL.items() if k not in ("authelia", "vaultwarden")}
    components["argocd"] = {"ingress": False, "subdomain": "cd"}
    ui = section(readme(components), "Web UIs")
    assert "| UI | URL |\n|---|---|\n" in ui
    assert "| Argo CD | none (`cd.lab.example.com` gets no Ingress) |" in ui
    assert "| Longhorn | none (`longhorn.lab.example.com` gets no Ingress) |" in ui
    assert "| Test app | <https://test.lab.example.com/> |" in ui
    assert "No single sign-on component is selected" in ui
    hosts = section(readme(components), "DNS: point `*.lab.example.com` at Traefik")
    assert "cd.lab.example.com" not in hosts and "longhorn.lab.example.com" not in hosts


def test_the_selfsigned_ca_is_exported_and_imported_per_system() -> None:
    text = readme(FULL)
    certificates = section(text, "Certificates")
    assert (
        "kubectl -n cert-manager get secret homelab-ca -o jsonpath='{.data.ca\\.crt}' "
        "| base64 -d > homelab-ca.crt"
    ) in certificates
    for system in ("**Linux**", "**macOS**", "**Windows**"):
        assert system in certificates
    assert "homelab-ca" in section(text, "What to back up")


@pytest.mark.parametrize("acme", ["staging", "production"])
def test_lets_encrypt_needs_no_ca_to_trust(acme: str) -> None:
    text = readme({**FULL, "cert-manager": {"issuer": "letsencrypt-http01", "acme_server": acme}})
    certificates = section(text, "Certificates")
    assert "homelab-ca" not in text
    assert "**Linux**" not in certificates
    assert ("acme_server: production" in certificates) == (acme == "staging")
    assert "forwarding ports 80 and 443 to 10.0.20.100" in text.replace("\n", " ")


def test_backups_follow_longhorn_and_the_secrets_mode() -> None:
    sealed = section(readme(FULL), "What to back up")
    assert "secrets/sealing-key/" in sealed and "secrets/values.yaml" in sealed
    assert "`vaultwarden-data` in `vaultwarden`" in sealed
    assert "not backed up" in sealed and "backup_store" in sealed
    with_store = {
        **FULL,
        "longhorn": {"backup_store": "nfs", "backup_target": "nfs://nas.lan:/backups"},
    }
    backed_up = section(readme(with_store), "What to back up")
    assert "`nfs://nas.lan:/backups`" in backed_up and "not backed up" not in backed_up
    manual = section(readme({"traefik": {}, "test-app": {}}, secrets="manual"), "What to back up")
    assert "Longhorn" not in manual and "sealing-key" not in manual
    assert "scaffold.yaml" in manual


def test_stuck_waves_name_the_causes_of_the_selection() -> None:
    full = section(readme(FULL), "When a wave is stuck")
    assert "kubectl -n argocd get applications" in full
    assert "scaffold bootstrap --wait" in full and "argocd app get NAME" in full
    assert "failed calling webhook" in full
    assert "no matches for kind" in full
    assert "ImagePullBackOff" in full
    assert "open-iscsi" in full
    small = section(readme({"traefik": {}, "test-app": {}}), "When a wave is stuck")
    assert "open-iscsi" not in small and "A certificate is not Ready" not in small


def test_external_dns_and_cloudflared_say_what_they_do_instead() -> None:
    cloudflare = {
        **FULL,
        "cert-manager": {"issuer": "letsencrypt-cloudflare"},
        "external-dns": {},
        "cloudflared": {},
    }
    text = readme(cloudflare, secrets="manual")
    dns = section(text, "DNS: point `*.lab.example.com` at Traefik")
    assert "**ExternalDNS** (selected) writes these records" in dns
    assert "**Cloudflare Tunnel**" in dns
    assert "https://traefik.traefik.svc.cluster.local" in dns


def test_every_section_is_absent_without_traefik_or_uis() -> None:
    text = readme({"metallb": {}}, secrets="manual")
    assert section(text, "DNS: point `*.lab.example.com` at Traefik") == ""
    # Argo CD's UI has no Ingress without an ingress controller.
    assert "| Argo CD | none (`argocd.lab.example.com` gets no Ingress) |" in section(text, "Web UIs")
    assert "open-iscsi" not in text


# ---------------------------------------------------------------------------------------------
# init --force beside a README of the user's own: the guide goes to HOMELAB.md


@pytest.fixture
def own_readme(tmp_path: Path) -> Path:
    root = git_init(tmp_path / "lab")
    (root / "README.md").write_text(USER_README, encoding="utf-8")
    commit_all(root, "our README")
    return root


def test_init_force_keeps_the_users_readme_and_writes_homelab_md(own_readme: Path) -> None:
    run = ok(invoke("init", own_readme, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    assert (own_readme / "README.md").read_bytes() == LINKED_README.encode()
    assert LINK_LINE.endswith("[HOMELAB.md](HOMELAB.md)")
    guide = (own_readme / "HOMELAB.md").read_text(encoding="utf-8")
    assert "## Bootstrap (once)" in guide and "## Web UIs" in guide
    state = json.loads((own_readme / ".scaffold/state.json").read_text())
    assert "README.md" not in state["files"] and "HOMELAB.md" in state["files"]
    assert "is in HOMELAB.md" in run.stdout and "one line at its end now links it" in run.stdout
    assert "the steps by hand:" in run.stdout and "HOMELAB.md)" in run.stdout


def test_later_runs_keep_using_homelab_md_and_never_touch_the_readme(own_readme: Path) -> None:
    ok(invoke("init", own_readme, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    commit_all(own_readme, "scaffold init")
    regenerate = ok(invoke("regenerate", "-C", own_readme))
    assert "Nothing to change" in regenerate.stdout
    drift = invoke("validate", "-C", own_readme, "--offline", "--drift", "--output", "json")
    assert [p for p in json.loads(drift.stdout)["problems"] if p["check"] == "drift"] == []
    add = ok(invoke("add", "homepage", "-C", own_readme))
    assert "HOMELAB.md" in add.stdout and "README.md" not in add.stdout
    assert (own_readme / "README.md").read_bytes() == LINKED_README.encode()
    assert "| homepage |" in (own_readme / "HOMELAB.md").read_text(encoding="utf-8")
    commit_all(own_readme, "homepage")
    # A README edited by the user later is still theirs: no merge, no drift.
    (own_readme / "README.md").write_text(USER_README + "\nMore notes.\n", encoding="utf-8")
    commit_all(own_readme, "more notes")
    assert "Nothing to change" in ok(invoke("regenerate", "-C", own_readme)).stdout


def test_init_force_again_keeps_the_guide_where_it_is(own_readme: Path) -> None:
    ok(invoke("init", own_readme, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    commit_all(own_readme, "scaffold init")
    ok(invoke("init", own_readme, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    assert (own_readme / "README.md").read_bytes() == LINKED_README.encode()
    state = json.loads((own_readme / ".scaffold/state.json").read_text())
    assert "README.md" not in state["files"] and "HOMELAB.md" in state["files"]


@pytest.mark.parametrize(
    "text",
    [
        USER_README + "\nThe cluster: [our guide](HOMELAB.md).\n",
        USER_README + "\nSee [setup](./HOMELAB.md#bootstrap-once).\n",
        USER_README + f"\n{LINK_LINE}\n",
    ],
)
def test_a_readme_that_links_the_guide_already_is_left_alone(tmp_path: Path, text: str) -> None:
    root = git_init(tmp_path / "lab")
    (root / "README.md").write_text(text, encoding="utf-8")
    commit_all(root, "our README")
    ok(invoke("init", root, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    assert (root / "README.md").read_bytes() == text.encode()
    assert (root / "HOMELAB.md").exists()


def test_a_readme_without_a_final_newline_keeps_every_byte_before_the_link(
    tmp_path: Path,
) -> None:
    root = git_init(tmp_path / "lab")
    (root / "README.md").write_bytes(b"# Ours\r\nno newline at the end")
    commit_all(root, "our README")
    dry = ok(invoke("init", root, "--no-input", "--force", "--dry-run", "--set", f"repo_url={REPO_URL}"))
    assert (root / "README.md").read_bytes() == b"# Ours\r\nno newline at the end"
    assert "README.md" in dry.stdout
    ok(invoke("init", root, "--no-input", "--force", "--set", f"repo_url={REPO_URL}"))
    text = (root / "README.md").read_bytes()
    assert text == b"# Ours\r\nno newline at the end\n\n" + LINK_LINE.encode() + b"\n"


def test_a_folder_without_a_readme_gets_the_guide_as_its_readme(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    ok(invoke("init", root, "--no-input", "--set", f"repo_url={REPO_URL}"))
    assert "## Bootstrap (once)" in (root / "README.md").read_text(encoding="utf-8")
    assert not (root / "HOMELAB.md").exists()
    assert "HOMELAB.md" not in json.loads((root / ".scaffold/state.json").read_text())["files"]


def test_the_bootstrap_checks_name_every_tool_the_preflight_requires() -> None:
    from homelab_scaffold.cluster.preflight import TOOLS

    bootstrap = " ".join(section(readme({"traefik": {}}), "Bootstrap (once)").split())
    checks = bootstrap.split("It checks first (", 1)[1].split(" on PATH", 1)[0]
    assert sorted(re.split(r", | and ", checks)) == sorted(TOOLS)


def test_the_login_password_is_printed_on_a_terminal_and_always_stored() -> None:
    ui = " ".join(section(readme(FULL), "Web UIs").split())
    assert "printed once" not in ui
    assert "prints it only when run on a terminal" in ui
    assert "always stored in `secrets/values.yaml` as `authelia:` -> `admin_password:`" in ui
    assert "`authelia.admin_password`" in ui


def test_the_argocd_cli_logs_in_through_traefik_with_grpc_web_only_with_an_ingress() -> None:
    stuck = section(readme(FULL), "When a wave is stuck")
    assert "argocd login argocd.lab.example.com --grpc-web --username admin" in stuck
    assert "`--insecure`" in stuck and "[Certificates](#certificates)" in stuck
    production = {
        **FULL,
        "cert-manager": {"issuer": "letsencrypt-http01", "acme_server": "production"},
    }
    staging = {**FULL, "cert-manager": {"issuer": "letsencrypt-http01", "acme_server": "staging"}}
    assert "(Let's Encrypt staging): add `--insecure`" in section(
        readme(staging), "When a wave is stuck"
    )
    trusted = section(readme(production), "When a wave is stuck")
    assert "--grpc-web" in trusted and "--insecure" not in trusted
    without = section(readme({**FULL, "argocd": {"ingress": False}}), "When a wave is stuck")
    assert "argocd login" not in without and "argocd app get NAME" in without


def test_vaultwardens_first_account_is_an_invitation_from_the_admin_page() -> None:
    ui = " ".join(section(readme(FULL), "Web UIs").split())
    assert "**Vaultwarden's first account**" in ui
    assert "Open <https://vault.lab.example.com/admin> (after the Authelia login)" in ui
    assert "`vaultwarden:` -> `admin_token:`, the secret `vaultwarden.admin_token`" in ui
    assert "Invite User" in ui and "<https://vault.lab.example.com/#/signup>" in ui
    alone = {k: v for k, v in FULL.items() if k != "authelia"}
    assert "(after the Authelia login)" not in readme(alone)
    assert "first account" not in readme({k: v for k, v in FULL.items() if k != "vaultwarden"})


def test_an_unguarded_ui_without_any_login_says_anyone_can_use_it() -> None:
    ui = section(readme({**FULL, "longhorn": {"sso": False}}), "Web UIs")
    row = next(line for line in ui.splitlines() if line.startswith("| Longhorn |"))
    assert "no login: anyone on your network can delete volumes" in row
    assert "**Longhorn has no login at all**" in ui
    alone = {k: v for k, v in FULL.items() if k != "authelia"}
    note = " ".join(section(readme({**alone, "longhorn": {"sso": False}}), "Web UIs").split())
    assert "anyone on your network can delete volumes" in note
    assert "add a single sign-on component" in note
    assert "has no login at all" not in readme(FULL)
