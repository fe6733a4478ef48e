"""Sealed secrets end to end: what `scaffold init` seals, keeps, and `scaffold secret` changes.

Every SealedSecret of a generated repository is decrypted with the repository's private key (with
scaffold's own ``sealing.unseal`` and with an independent implementation of the documented
format) and compared with the plaintext Secret the same values render to.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from conftest import REPO_URL, Generated, Run, generate, git, git_init, invoke, write_config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from homelab_scaffold.generate import sealing_crypto as sealing
from homelab_scaffold.generate.answers import parse_answers
from homelab_scaffold.errors import RepoError
from homelab_scaffold.generate.pipeline import SecretInputs, load_catalog_for, render_answers
from homelab_scaffold.generate.sealed import Sealing
from homelab_scaffold.repo.secret_store import SecretStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEALED_SECRET_SCHEMA = SHARED / "schemas" / "bitnami.com" / "sealedsecret_v1alpha1.json"
KEY_DIR = "secrets/sealing-key"
BOOTSTRAP = "secrets/sealing-key.yaml"
VALUES = "secrets/values.yaml"
TOKEN_ENV = "SCAFFOLD_CLOUDFLARE_API_TOKEN"
ARGON2_PHC = re.compile(r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
COMMIT = ("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-q")


# ---------------------------------------------------------------------------------------------
# Helpers


def commit_all(root: Path, message: str = "scaffold") -> None:
    assert git(root, "add", "-A").returncode == 0
    result = git(root, *COMMIT, "-m", message)
    assert result.returncode == 0, result.stderr


def sealed_files(root: Path) -> dict[str, dict[str, Any]]:
    """Every SealedSecret file under kubernetes/, parsed."""
    return {
        path.relative_to(root).as_posix(): yaml.safe_load(path.read_text())
        for path in sorted((root / "kubernetes").rglob("*.sealedsecret.yaml"))
    }


def key_pair_of(root: Path) -> sealing.KeyPair:
    key_pair = SecretStore(root).key_pair()
    assert key_pair is not None
    return key_pair


def values_of(root: Path) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = yaml.safe_load((root / VALUES).read_text())
    return data


def plaintext_secrets(root: Path) -> dict[str, dict[str, bytes]]:
    """namespace/name -> data of the Secrets the repo's answers and values render to (unsealed)."""
    answers = parse_answers(yaml.safe_load((root / "scaffold.yaml").read_text()), "scaffold.yaml")
    rendered = render_answers(
        answers, load_catalog_for(answers, root), secrets=SecretInputs(values_of(root))
    )
    secrets: dict[str, dict[str, bytes]] = {}
    for text in rendered.secret_manifests.values():
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            data = {k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}
            data.update({k: str(v).encode() for k, v in (doc.get("stringData") or {}).items()})
            secrets[f"{doc['metadata']['namespace']}/{doc['metadata']['name']}"] = data
    return secrets


def unseal(document: dict[str, Any], key: str, key_pair: sealing.KeyPair, **place: str) -> bytes:
    """Decrypt one value with scaffold's unseal, for the document's place unless overridden."""
    metadata = document["metadata"]
    return sealing.unseal(
        document["spec"]["encryptedData"][key],
        namespace=place.get("namespace", metadata["namespace"]),
        name=place.get("name", metadata["name"]),
        scope="strict",
        private_key_pem=key_pair.private_key_pem,
    )


# Independent implementation of the format (sealed-secrets pkg/crypto): 2-byte length, RSA-OAEP
# (SHA-256, label namespace/name) session key, AES-256-GCM with an all-zero nonce.
def reference_decrypt(sealed: str, private_key_pem: bytes, label: bytes) -> bytes:
    blob = base64.b64decode(sealed, validate=True)
    length = int.from_bytes(blob[:2], "big")
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    session_key = key.decrypt(blob[2 : 2 + length], oaep)
    return AESGCM(session_key).decrypt(bytes(12), blob[2 + length :], None)


def tree_bytes(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path but .git/ with its mode and bytes."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mode, None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
        if ".git" not in p.relative_to(root).parts
    }


def scaffold_in(root: Path, *args: object, stdin: str | None = None) -> Run:
    return invoke(*args, "-C", root, stdin=stdin)


@pytest.fixture(scope="module")
def sealed_repo(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The default stack (sealed by default), committed in a real git repository."""
    dest = git_init(tmp_path_factory.mktemp("sealed") / "homelab", origin=REPO_URL)
    generated = generate(dest, "--no-input")
    commit_all(dest)
    return generated


@pytest.fixture
def repo_copy(sealed_repo: Generated, tmp_path: Path) -> Path:
    """A private copy of the committed sealed repository, for tests that change it."""
    dest = tmp_path / "homelab"
    shutil.copytree(sealed_repo.root, dest, symlinks=True)
    return dest


# ---------------------------------------------------------------------------------------------
# What init seals


def test_every_sealed_secret_decrypts_to_the_secret_it_replaces(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    key_pair = key_pair_of(root)
    expected = plaintext_secrets(root)
    found: dict[str, dict[str, bytes]] = {}
    for document in sealed_files(root).values():
        place = f"{document['metadata']['namespace']}/{document['metadata']['name']}"
        found[place] = {
            key: unseal(document, key, key_pair) for key in document["spec"]["encryptedData"]
        }
        for key, sealed in document["spec"]["encryptedData"].items():
            independent = reference_decrypt(sealed, key_pair.private_key_pem, place.encode())
            assert independent == found[place][key], f"{place} {key}"
    assert set(expected) == {
        "authelia/authelia-secrets",
        "authelia/authelia-users",
        "vaultwarden/vaultwarden-admin",
    }
    assert found == expected


def test_sealed_secrets_live_next_to_their_apps_and_keep_type_and_labels(
    sealed_repo: Generated,
) -> None:
    files = sealed_files(sealed_repo.root)
    assert set(files) == {
        "kubernetes/apps/authelia/authelia-secrets.sealedsecret.yaml",
        "kubernetes/apps/authelia/authelia-users.sealedsecret.yaml",
        "kubernetes/apps/vaultwarden/vaultwarden-admin.sealedsecret.yaml",
    }
    for path, document in files.items():
        name = Path(path).name.removesuffix(".sealedsecret.yaml")
        assert document["metadata"]["name"] == name
        assert "annotations" not in document["metadata"], "strict scope has no scope annotation"
        template = document["spec"]["template"]
        assert template["type"] == "Opaque"
        assert template["metadata"]["name"] == name
        assert template["metadata"]["namespace"] == document["metadata"]["namespace"]
        assert template["metadata"]["labels"]["app.kubernetes.io/name"] in path


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("authelia", "moved"), ("elsewhere", "authelia-secrets"), ("vaultwarden", "authelia-secrets")],
)
def test_a_sealed_secret_moved_elsewhere_does_not_decrypt(
    sealed_repo: Generated, namespace: str, name: str
) -> None:
    root = sealed_repo.root
    key_pair = key_pair_of(root)
    document = sealed_files(root)["kubernetes/apps/authelia/authelia-secrets.sealedsecret.yaml"]
    with pytest.raises(RepoError, match="does not decrypt"):
        unseal(document, "jwt_secret", key_pair, namespace=namespace, name=name)
    sealed = document["spec"]["encryptedData"]["jwt_secret"]
    with pytest.raises(ValueError):
        reference_decrypt(sealed, key_pair.private_key_pem, f"{namespace}/{name}".encode())


@pytest.mark.skipif(
    not SEALED_SECRET_SCHEMA.is_file(),
    reason=f"upstream schema not found at {SEALED_SECRET_SCHEMA} (../shared is absent)",
)
def test_every_sealed_secret_validates_against_the_crd_schema(sealed_repo: Generated) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft4Validator(json.loads(SEALED_SECRET_SCHEMA.read_text()))
    files = sealed_files(sealed_repo.root)
    assert files
    for path, document in files.items():
        assert document["apiVersion"] == "bitnami.com/v1alpha1"
        assert document["kind"] == "SealedSecret"
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], path


def test_authelia_password_hash_verifies_with_argon2(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    document = sealed_files(root)["kubernetes/apps/authelia/authelia-users.sealedsecret.yaml"]
    users = yaml.safe_load(unseal(document, "users_database.yml", key_pair_of(root)))
    (user,) = users["users"].values()
    password = values_of(root)["authelia"]["admin_password"]
    assert ARGON2_PHC.match(user["password"])
    assert "m=65536,t=3,p=4" in user["password"], "Authelia's default argon2id parameters"
    assert PasswordHasher().verify(user["password"], password)
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(user["password"], password + "x")


def test_vaultwarden_admin_token_is_an_argon2id_phc_string(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    document = sealed_files(root)["kubernetes/apps/vaultwarden/vaultwarden-admin.sealedsecret.yaml"]
    phc = unseal(document, "ADMIN_TOKEN", key_pair_of(root)).decode()
    assert ARGON2_PHC.match(phc), phc[:20]
    assert PasswordHasher().verify(phc, values_of(root)["vaultwarden"]["admin_token"])


def test_init_says_to_back_up_the_key_and_shows_passwords_once(sealed_repo: Generated) -> None:
    stdout = sealed_repo.run.stdout
    assert "back it up" in stdout and "secrets/sealing-key" in stdout
    values = values_of(sealed_repo.root)
    # Not a terminal (a log, CI): no value is printed, only where it is stored.
    assert values["authelia"]["admin_password"] not in stdout
    assert "authelia admin_password: generated and stored in secrets/values.yaml" in stdout
    assert values["authelia"]["jwt_secret"] not in stdout


def test_no_plaintext_secret_manifest_is_written_when_sealing(sealed_repo: Generated) -> None:
    secrets_dir = sealed_repo.root / "secrets"
    assert sorted(p.relative_to(secrets_dir).as_posix() for p in secrets_dir.rglob("*")) == [
        ".scaffold-hashes.json",
        "sealing-key",
        "sealing-key.yaml",
        "sealing-key/tls.crt",
        "sealing-key/tls.key",
        "values.yaml",
    ]


def test_key_and_secret_files_are_private_and_ignored(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    assert stat.S_IMODE((root / KEY_DIR).stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "secrets").stat().st_mode) == 0o700
    for path in (f"{KEY_DIR}/tls.key", f"{KEY_DIR}/tls.crt", BOOTSTRAP, VALUES):
        assert stat.S_IMODE((root / path).stat().st_mode) == 0o600, path
        assert git(root, "check-ignore", "-q", path).returncode == 0, path


def test_the_bootstrap_secret_hands_this_key_to_the_controller(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    key_pair = key_pair_of(root)
    (document,) = [d for d in yaml.safe_load_all((root / BOOTSTRAP).read_text()) if d]
    assert document["type"] == "kubernetes.io/tls"
    assert document["metadata"]["namespace"] == "kube-system"
    assert document["metadata"]["labels"] == {
        "sealedsecrets.bitnami.com/sealed-secrets-key": "active"
    }
    assert base64.b64decode(document["data"]["tls.key"]) == key_pair.private_key_pem
    assert base64.b64decode(document["data"]["tls.crt"]) == key_pair.certificate_pem


def _tracked_texts(root: Path) -> dict[str, str]:
    listed = git(root, "ls-files", "-z").stdout.split("\0")
    return {p: (root / p).read_text(encoding="utf-8") for p in listed if p}


def test_tracked_files_hold_no_secret_material(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    tracked = _tracked_texts(root)
    assert any(p.endswith(".sealedsecret.yaml") for p in tracked)
    assert not any(p.startswith("secrets/") for p in tracked)
    key_pair = key_pair_of(root)
    values = [v for component in values_of(root).values() for v in component.values()]
    plaintexts = [
        data.decode() for secret in plaintext_secrets(root).values() for data in secret.values()
    ]
    hashes = [h for text in plaintexts for h in re.findall(r"\$argon2id\$[^\s\"']+", text)]
    key_body = "".join(key_pair.private_key_pem.decode().splitlines()[1:-1])
    pem_base64 = base64.b64encode(key_pair.private_key_pem).decode()
    needles = [*values, *hashes, key_body[:64], pem_base64[:64]]
    needles += [base64.b64encode(v.encode()).decode() for v in values]
    assert len(values) == 5 and len(hashes) == 2
    leaks = [(path, n[:6]) for path, text in tracked.items() for n in needles if n in text]
    assert leaks == []
    patterns = [r"PRIVATE KEY", r"\$argon2", r"stringData:"]
    found = [
        (p, pattern) for p, t in tracked.items() for pattern in patterns if re.search(pattern, t)
    ]
    assert found == []
    secrets_with_data = [
        path
        for path, text in tracked.items()
        if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict) and doc.get("kind") == "Secret" and doc.get("data")
    ]
    assert secrets_with_data == []


# ---------------------------------------------------------------------------------------------
# Stability


def test_regenerate_on_an_unchanged_repo_changes_no_byte(repo_copy: Path) -> None:
    before = tree_bytes(repo_copy)
    run = scaffold_in(repo_copy, "regenerate")
    assert run.exit_code == 0, run.stderr
    assert "Nothing to change" in run.stdout
    assert tree_bytes(repo_copy) == before
    assert git(repo_copy, "status", "--porcelain").stdout == ""


def _seal_again(root: Path, existing: dict[str, str]) -> dict[str, str]:
    """The seal stage on the repo's own values and key, with ``existing`` as the current files."""
    answers = parse_answers(yaml.safe_load((root / "scaffold.yaml").read_text()), "scaffold.yaml")
    rendered = render_answers(
        answers,
        load_catalog_for(answers, root),
        secrets=SecretInputs(values_of(root), sealing=Sealing(key_pair_of(root), existing)),
    )
    return {p: t for p, t in rendered.files.items() if p.endswith(".sealedsecret.yaml")}


def test_the_seal_stage_keeps_ciphertext_only_where_it_still_decrypts_here(
    sealed_repo: Generated,
) -> None:
    """A value sealed for another place (scope changed), another key, or not at all is sealed
    again; every other value keeps its bytes."""
    root = sealed_repo.root
    current = {p: (root / p).read_text() for p in sealed_files(root)}
    assert _seal_again(root, current) == current
    secrets_path = "kubernetes/apps/authelia/authelia-secrets.sealedsecret.yaml"
    document = yaml.safe_load(current[secrets_path])
    old = document["spec"]["encryptedData"]
    elsewhere = sealing.seal(
        values_of(root)["authelia"]["jwt_secret"].encode(),
        namespace="vaultwarden",
        name="authelia-secrets",
        scope="strict",
        certificate_pem=key_pair_of(root).certificate_pem,
    )
    other_key = sealing.generate_key_pair(common_name="other")
    with_other_key = sealing.seal(
        values_of(root)["authelia"]["session_secret"].encode(),
        namespace="authelia",
        name="authelia-secrets",
        scope="strict",
        certificate_pem=other_key.certificate_pem,
    )
    edited = current[secrets_path].replace(old["jwt_secret"], elsewhere)
    edited = edited.replace(old["session_secret"], with_other_key)
    users_path = "kubernetes/apps/authelia/authelia-users.sealedsecret.yaml"
    existing = {**current, secrets_path: edited}
    del existing[users_path]
    resealed = _seal_again(root, existing)
    new = yaml.safe_load(resealed[secrets_path])["spec"]["encryptedData"]
    assert new["jwt_secret"] not in (old["jwt_secret"], elsewhere)
    assert new["session_secret"] not in (old["session_secret"], with_other_key)
    assert new["storage_encryption_key"] == old["storage_encryption_key"]
    assert resealed[users_path] != current[users_path]
    others = set(current) - {secrets_path, users_path}
    assert {p: resealed[p] for p in others} == {p: current[p] for p in others}
    for key in new:
        document = yaml.safe_load(resealed[secrets_path])
        assert unseal(document, key, key_pair_of(root)) == values_of(root)["authelia"][key].encode()


# ---------------------------------------------------------------------------------------------
# scaffold secret


def _encrypted(root: Path) -> dict[tuple[str, str], str]:
    return {
        (path, key): value
        for path, doc in sealed_files(root).items()
        for key, value in doc["spec"]["encryptedData"].items()
    }


def test_secret_list_names_every_value_and_never_prints_one(sealed_repo: Generated) -> None:
    root = sealed_repo.root
    run = scaffold_in(root, "secret", "list")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 5
    assert any(
        line.startswith("authelia.admin_password ")
        and "authelia/authelia-users" in line
        and "kubernetes/apps/authelia/authelia-users.sealedsecret.yaml" in line
        for line in lines
    ), lines
    assert any(
        line.startswith("vaultwarden.admin_token ") and "ADMIN_TOKEN" in line for line in lines
    )
    values = [v for component in values_of(root).values() for v in component.values()]
    assert not [v for v in values if v in run.stdout or v in run.stderr]


def test_secret_set_reseals_only_that_secret(repo_copy: Path) -> None:
    before = _encrypted(repo_copy)
    run = scaffold_in(
        repo_copy, "secret", "set", "authelia.admin_password", stdin="correct horse battery\n"
    )
    assert run.exit_code == 0, run.stderr
    assert "correct horse battery" not in run.stdout + run.stderr
    after = _encrypted(repo_copy)
    changed = sorted(k for k in before if before[k] != after[k])
    users = "kubernetes/apps/authelia/authelia-users.sealedsecret.yaml"
    assert changed == [(users, "users_database.yml")]
    assert values_of(repo_copy)["authelia"]["admin_password"] == "correct horse battery"
    document = sealed_files(repo_copy)[users]
    (user,) = yaml.safe_load(unseal(document, "users_database.yml", key_pair_of(repo_copy)))[
        "users"
    ].values()
    assert PasswordHasher().verify(user["password"], "correct horse battery")
    status = git(repo_copy, "status", "--porcelain").stdout
    assert {line[3:] for line in status.splitlines()} == {users, ".scaffold/state.json"}


def test_secret_set_reads_a_script_value_from_the_environment(
    repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_TOKEN", "a-token-chosen-by-a-script-0123456789")
    run = scaffold_in(
        repo_copy, "secret", "set", "vaultwarden.admin_token", "--value-from-env", "NEW_TOKEN"
    )
    assert run.exit_code == 0, run.stderr
    assert (
        values_of(repo_copy)["vaultwarden"]["admin_token"]
        == "a-token-chosen-by-a-script-0123456789"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("authelia.nope",), "unknown secret 'authelia.nope'"),
        (("authelia.jwt_secret", "--value-from-env", "SCAFFOLD_TEST_UNSET"), "not set"),
    ],
)
def test_secret_set_refuses_bad_input(
    sealed_repo: Generated, args: tuple[str, ...], message: str
) -> None:
    run = scaffold_in(sealed_repo.root, "secret", "set", *args, stdin="x" * 30)
    assert run.exit_code == 2
    assert message in run.stderr


def test_secret_set_refuses_a_short_token(sealed_repo: Generated) -> None:
    run = scaffold_in(sealed_repo.root, "secret", "set", "authelia.jwt_secret", stdin="short")
    assert run.exit_code == 2
    assert "at least 20 characters" in run.stderr
    assert git(sealed_repo.root, "status", "--porcelain").stdout == ""


def test_secret_rotate_generates_announces_and_reseals_one_value(repo_copy: Path) -> None:
    old = values_of(repo_copy)["vaultwarden"]["admin_token"]
    before = _encrypted(repo_copy)
    run = scaffold_in(repo_copy, "secret", "rotate", "vaultwarden.admin_token")
    assert run.exit_code == 0, run.stderr
    new = values_of(repo_copy)["vaultwarden"]["admin_token"]
    assert new != old and len(new) == 48
    assert new not in run.stdout + run.stderr, "never printed where it is not a terminal"
    assert "vaultwarden admin_token: generated and stored in secrets/values.yaml" in run.stdout
    after = _encrypted(repo_copy)
    admin = "kubernetes/apps/vaultwarden/vaultwarden-admin.sealedsecret.yaml"
    assert sorted(k for k in before if before[k] != after[k]) == [(admin, "ADMIN_TOKEN")]


def test_a_provided_token_cannot_be_rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "cloudflare-token-0123456789")
    dest = tmp_path / "homelab"
    generate(dest, "--config", _cloudflare_config(tmp_path))
    run = scaffold_in(dest, "secret", "rotate", "cert-manager")
    assert run.exit_code == 2
    assert "scaffold secret set cert-manager.cloudflare_api_token" in run.stderr


def test_a_lost_key_is_recovered_by_rotating_everything_with_a_new_key(repo_copy: Path) -> None:
    old_key = key_pair_of(repo_copy)
    expected = plaintext_secrets(repo_copy)
    shutil.rmtree(repo_copy / KEY_DIR)
    refused = scaffold_in(repo_copy, "regenerate")
    assert refused.exit_code == 2
    assert "scaffold secret rotate --all --new-key" in refused.stderr
    run = scaffold_in(repo_copy, "secret", "rotate", "--all", "--new-key")
    assert run.exit_code == 0, run.stderr
    assert "kubectl apply -f secrets/sealing-key.yaml" in run.stdout
    new_key = key_pair_of(repo_copy)
    assert new_key.private_key_pem != old_key.private_key_pem
    bootstrap = yaml.safe_load((repo_copy / BOOTSTRAP).read_text().split("---")[0])
    assert base64.b64decode(bootstrap["data"]["tls.key"]) == new_key.private_key_pem
    for document in sealed_files(repo_copy).values():
        place = f"{document['metadata']['namespace']}/{document['metadata']['name']}"
        for key in document["spec"]["encryptedData"]:
            assert unseal(document, key, new_key) == expected[place][key]
            with pytest.raises(RepoError):
                unseal(document, key, old_key)


def test_the_first_change_that_needs_sealing_creates_the_key(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "components": {"traefik": {}, "test-app": {}}},
    )
    dest = git_init(tmp_path / "homelab")
    generate(dest, "--config", config)
    assert not (dest / "secrets").exists()
    commit_all(dest)
    run = scaffold_in(dest, "add", "authelia")
    assert run.exit_code == 0, run.stderr
    assert re.search(r"^\s*create\s+secrets/sealing-key/tls\.key$", run.stdout, re.M)
    assert stat.S_IMODE((dest / KEY_DIR / "tls.key").stat().st_mode) == 0o600
    assert "sealed-secrets" in yaml.safe_load((dest / "scaffold.yaml").read_text())["components"]
    expected = plaintext_secrets(dest)
    for document in sealed_files(dest).values():
        place = f"{document['metadata']['namespace']}/{document['metadata']['name']}"
        for key in document["spec"]["encryptedData"]:
            assert unseal(document, key, key_pair_of(dest)) == expected[place][key]
    assert "kubectl apply -f secrets/sealing-key.yaml" in (dest / "README.md").read_text()
    commit_all(dest)
    before = tree_bytes(dest)
    assert "Nothing to change" in scaffold_in(dest, "regenerate").stdout
    assert tree_bytes(dest) == before


def test_a_new_key_asks_first_and_a_script_must_say_yes(
    repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import snapshot

    from homelab_scaffold import prompts

    before = snapshot(repo_copy)
    run = scaffold_in(repo_copy, "secret", "rotate", "--all", "--new-key")
    assert run.exit_code == 2
    assert "pass --yes" in run.stderr and "sealing key" in run.stderr
    assert snapshot(repo_copy) == before
    monkeypatch.setattr(prompts, "terminal_available", lambda: True)
    asked: list[str] = []
    monkeypatch.setattr(prompts, "confirm", lambda message: asked.append(message) or False)
    run = scaffold_in(repo_copy, "secret", "rotate", "--all", "--new-key")
    assert run.exit_code != 0 and asked and "replaces the sealing key" in asked[0]
    assert snapshot(repo_copy) == before


def test_a_new_key_keeps_the_old_pair_beside_it(repo_copy: Path) -> None:
    old_key = key_pair_of(repo_copy)
    run = scaffold_in(repo_copy, "secret", "rotate", "--all", "--new-key", "--yes")
    assert run.exit_code == 0, run.stderr
    kept = sorted((repo_copy / "secrets").glob("sealing-key.old-*"))
    assert len(kept) == 1 and re.fullmatch(r"sealing-key\.old-\d{8}T\d{6}Z", kept[0].name)
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o700
    for name, pem in (("tls.key", old_key.private_key_pem), ("tls.crt", old_key.certificate_pem)):
        assert (kept[0] / name).read_bytes() == pem
        assert stat.S_IMODE((kept[0] / name).stat().st_mode) == 0o600
        relative = f"secrets/{kept[0].name}/{name}"
        assert git(repo_copy, "check-ignore", "-q", relative).returncode == 0
    assert key_pair_of(repo_copy).private_key_pem != old_key.private_key_pem
    assert f"secrets/{kept[0].name}/" in run.stdout
    assert "still decrypts the SealedSecrets the cluster holds" in run.stdout
    assert "PRIVATE KEY" not in run.stdout + run.stderr


def test_new_key_needs_all(sealed_repo: Generated) -> None:
    run = scaffold_in(sealed_repo.root, "secret", "rotate", "authelia.jwt_secret", "--new-key")
    assert run.exit_code == 2
    assert "--all" in run.stderr


# ---------------------------------------------------------------------------------------------
# Selection, waves and modes


def _waves(root: Path) -> dict[str, int]:
    waves = {}
    for path in sorted((root / "kubernetes/system/argocd-config").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Application" and doc["metadata"]["name"] != "root":
                annotation = doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                waves[doc["metadata"]["name"]] = int(annotation)
    return waves


def test_apps_with_secrets_wait_for_the_controller(sealed_repo: Generated) -> None:
    waves = _waves(sealed_repo.root)
    for app in ("authelia", "vaultwarden"):
        assert waves[app] > waves["sealed-secrets"], waves


def test_sealed_secrets_is_added_when_a_component_has_secrets(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml", {"repo_url": REPO_URL, "components": {"authelia": {}}}
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    assert "sealed-secrets" in generated.answers()["components"]
    assert re.search(
        r"^  added because others need them: .*sealed-secrets \(for authelia\)",
        generated.run.stdout,
        re.M,
    )
    assert _waves(generated.root)["authelia"] > _waves(generated.root)["sealed-secrets"]


def test_without_secret_users_there_is_no_trace_of_sealing(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "components": {"traefik": {}, "test-app": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    assert not (generated.root / "secrets").exists()
    texts = {p: t for p, t in generated.tree().items() if p != "README.md"}
    assert [p for p, t in texts.items() if "sealed" in t.lower() or "bitnami" in t] == []
    assert "sealing key" not in (generated.root / "README.md").read_text()


def test_manual_mode_keeps_plaintext_manifests_and_seals_nothing(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "secrets": "manual", "components": {"vaultwarden": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    root = generated.root
    assert sealed_files(root) == {}
    assert not (root / KEY_DIR).exists()
    assert "sealed-secrets" not in generated.answers()["components"]
    manifest = yaml.safe_load((root / "secrets/vaultwarden/vaultwarden-admin.yaml").read_text())
    assert manifest["kind"] == "Secret"
    assert (
        stat.S_IMODE((root / "secrets/vaultwarden/vaultwarden-admin.yaml").stat().st_mode) == 0o600
    )
    assert "kubectl apply --recursive -f secrets/vaultwarden/" in (root / "README.md").read_text()


def test_no_input_manual_mode_leaves_out_the_controller(tmp_path: Path) -> None:
    generated = generate(tmp_path / "homelab", "--no-input", "--set", "secrets=manual")
    assert "sealed-secrets" not in generated.answers()["components"]
    assert generated.answers()["secrets"] == "manual"
    assert (generated.root / "secrets/authelia/authelia-users.yaml").is_file()


def test_an_unknown_secrets_mode_is_bad_input(tmp_path: Path) -> None:
    run = invoke("init", tmp_path / "homelab", "--no-input", "--set", "secrets=vault")
    assert run.exit_code == 2
    assert "secrets" in run.stderr and "sealed-secrets, manual" in run.stderr
    assert not (tmp_path / "homelab").exists()


def test_the_readme_bootstraps_the_key_before_the_root_app(sealed_repo: Generated) -> None:
    readme = (sealed_repo.root / "README.md").read_text()
    key_step = readme.index("kubectl apply -f secrets/sealing-key.yaml")
    root_step = readme.index("kubectl apply -f kubernetes/system/argocd-config/root-app.yaml")
    assert key_step < root_step
    assert re.search(r"\*\*Back up `secrets/sealing-key/`", readme)
    assert "scaffold secret rotate --all --new-key" in readme


# ---------------------------------------------------------------------------------------------
# The Cloudflare API token


def _cloudflare_config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "cloudflare.yaml",
        {
            "repo_url": REPO_URL,
            "components": {"cert-manager": {"issuer": "letsencrypt-cloudflare"}},
        },
    )


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    yield


@pytest.mark.usefixtures("no_token")
def test_a_cloudflare_issuer_without_a_token_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    run = invoke(
        "init", dest, "--no-input", "--set", "components.cert-manager.issuer=letsencrypt-cloudflare"
    )
    assert run.exit_code == 2
    assert TOKEN_ENV in run.stderr and "secrets.cloudflare_api_token" in run.stderr
    assert len(run.stderr_lines) == 1
    assert not dest.exists()


@pytest.mark.parametrize("how", ["environment", "set"])
def test_the_cloudflare_token_is_sealed_for_cert_manager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    token = "cf-token-" + how + "-0123456789abcdef"
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    args: tuple[str, ...] = ()
    if how == "environment":
        monkeypatch.setenv(TOKEN_ENV, token)
    else:
        args = ("--set", f"secrets.cloudflare_api_token={token}")
    dest = git_init(tmp_path / "homelab")
    generated = generate(dest, "--config", _cloudflare_config(tmp_path), *args)
    path = "kubernetes/system/cert-manager-config/cloudflare-api-token.sealedsecret.yaml"
    document = sealed_files(dest)[path]
    assert document["metadata"] == {"name": "cloudflare-api-token", "namespace": "cert-manager"}
    assert unseal(document, "api-token", key_pair_of(dest)) == token.encode()
    assert values_of(dest)["cert-manager"]["cloudflare_api_token"] == token
    commit_all(dest)
    assert not [p for p, t in _tracked_texts(dest).items() if token in t]
    assert token not in generated.run.stdout
    waves = _waves(dest)
    assert waves["cert-manager-config"] > waves["sealed-secrets"]
    issuer = (dest / "kubernetes/system/cert-manager-config/letsencrypt.yaml").read_text()
    assert "SealedSecret cloudflare-api-token" in issuer


@pytest.mark.usefixtures("no_token")
def test_manual_mode_leaves_the_cloudflare_token_to_the_user(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "manual.yaml",
        {
            "repo_url": REPO_URL,
            "secrets": "manual",
            "components": {"cert-manager": {"issuer": "letsencrypt-cloudflare"}},
        },
    )
    generated = generate(tmp_path / "homelab", "--config", config)
    assert sealed_files(generated.root) == {}
    issuer = (generated.root / "kubernetes/system/cert-manager-config/letsencrypt.yaml").read_text()
    assert "create secret generic cloudflare-api-token" in issuer


def test_removing_the_controller_while_secrets_are_sealed_is_refused(repo_copy: Path) -> None:
    before = tree_bytes(repo_copy)
    run = scaffold_in(repo_copy, "remove", "--yes", "sealed-secrets")
    assert run.exit_code == 2
    assert "secrets: manual" in run.stderr and "authelia" in run.stderr
    assert tree_bytes(repo_copy) == before
