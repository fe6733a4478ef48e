"""Same inputs, same bytes: everything but the random secrets/ is deterministic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    EXAMPLE_ENV,
    EXAMPLES_DIR,
    REPO_URL,
    SECRETS_PREFIX,
    STATE_PATH,
    generate,
    snapshot,
    without_randomness,
    write_config,
)

SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")
SETS = (
    "--set",
    f"repo_url={REPO_URL}",
    "--set",
    "domain=lab.example.org",
    "--set",
    "components.metallb.addresses=10.0.20.200-10.0.20.240",
)


def tracked(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Byte-for-byte snapshot (modes included) without secrets/."""
    return {
        path: entry
        for path, entry in snapshot(root).items()
        if path != "." and not (path + "/").startswith(SECRETS_PREFIX)
    }


def masked(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """``tracked`` with SealedSecret ciphertexts and secret-file hashes masked."""
    return {
        path: (mode, None if data is None else without_randomness(path, data.decode()).encode())
        for path, (mode, data) in tracked(root).items()
    }


MANUAL = (*SETS, "--set", "secrets=manual")


@pytest.fixture(scope="module")
def two_manual_inits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same --no-input answers rendered twice into different folders (secrets: manual)."""
    base = tmp_path_factory.mktemp("twice")
    first = generate(base / "first", "--no-input", *MANUAL)
    second = generate(base / "elsewhere" / "second", "--no-input", *MANUAL)
    return first.root, second.root


def test_two_inits_give_byte_identical_trees(two_manual_inits: tuple[Path, Path]) -> None:
    first, second = two_manual_inits
    assert len(tracked(first)) > 20
    assert tracked(first) == tracked(second)


def test_two_inits_differ_in_nothing_but_secret_hashes(two_manual_inits: tuple[Path, Path]) -> None:
    first, second = two_manual_inits
    assert len(tracked(first)) > 20
    assert masked(first) == masked(second)


def test_with_sealed_secrets_only_the_ciphertexts_differ(tmp_path: Path) -> None:
    sealed = (*SETS, "--set", "secrets=sealed-secrets")
    first = generate(tmp_path / "first", "--no-input", *sealed)
    second = generate(tmp_path / "elsewhere" / "second", "--no-input", *sealed)
    one, two = tracked(first.root), tracked(second.root)
    assert one.keys() == two.keys()
    differing = sorted(p for p in one if one[p] != two[p])
    assert differing, "fresh secrets and session keys should give fresh ciphertexts"
    assert all(p.endswith(".sealedsecret.yaml") or p == STATE_PATH for p in differing), differing
    assert masked(first.root) == masked(second.root)


def test_secrets_are_random_between_inits(tmp_path: Path) -> None:
    first = generate(tmp_path / "first", "--no-input", *SETS)
    second = generate(tmp_path / "second", "--no-input", *SETS)
    values = [yaml.safe_load((g.root / "secrets/values.yaml").read_text()) for g in (first, second)]
    assert values[0].keys() == values[1].keys()
    for component, keys in values[0].items():
        for key, value in keys.items():
            assert value != values[1][component][key], f"{component}.{key} repeated"


def test_the_order_of_components_in_the_config_does_not_matter(tmp_path: Path) -> None:
    components = {
        "vaultwarden": {},
        "test-app": {},
        "metallb": {"addresses": ["10.0.0.1-10.0.0.9"]},
    }
    forward = write_config(tmp_path / "a.yaml", {"repo_url": REPO_URL, "components": components})
    backward = write_config(
        tmp_path / "b.yaml",
        {"repo_url": REPO_URL, "components": dict(reversed(list(components.items())))},
    )
    one = masked(generate(tmp_path / "one", "--config", forward).root)
    two = masked(generate(tmp_path / "two", "--config", backward).root)
    assert {p for p in one if p.startswith("kubernetes/")} == {
        p for p in two if p.startswith("kubernetes/")
    }
    differing = sorted(p for p in one if one[p] != two.get(p))
    assert differing == [] or differing == ["scaffold.yaml"], differing


@pytest.mark.skipif(not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed")
def test_hash_seed_time_zone_and_locale_do_not_change_the_output(tmp_path: Path) -> None:
    config = EXAMPLES_DIR / "full-stack" / "scaffold.yaml"
    trees = []
    for index, (seed, zone, lang) in enumerate([("1", "UTC", "C.UTF-8"), ("2", "Asia/Tokyo", "")]):
        env = {
            **os.environ,
            **EXAMPLE_ENV,
            "PYTHONHASHSEED": seed,
            "TZ": zone,
            "LANG": lang,
            "LC_ALL": lang,
        }
        dest = tmp_path / f"run{index}"
        result = subprocess.run(
            [str(SCAFFOLD_EXE), "init", "--config", str(config), str(dest)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        trees.append(masked(dest))
    assert trees[0] == trees[1]


def test_init_force_over_its_own_output_changes_no_tracked_file(tmp_path: Path) -> None:
    dest = tmp_path / "homelab"
    generate(dest, "--no-input", *SETS)
    before = tracked(dest)
    again = generate(dest, "--no-input", "--force", *SETS)
    assert tracked(dest) == before
    assert "update" not in again.run.stdout
