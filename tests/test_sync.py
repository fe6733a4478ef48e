"""Per-file decisions: base = what scaffold generated last (the state), ours = the file on disk,
theirs = the new render. ``decide`` is tested rule by rule; ``plan_sync`` on real trees.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import invoke

from homelab_scaffold.errors import RepoError
from homelab_scaffold.repo.state import STATE_FILE
from homelab_scaffold.engine import Engine, Outcome, RunOptions
from homelab_scaffold.repo.answers_file import AnswersDocument
from homelab_scaffold.repo.changes import FileChange, decide

BASE = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n"
MINIMAL = """\
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
components:
  traefik: {}
  test-app: {}
"""

# ---------------------------------------------------------------------------------------------
# decide(path, base, current, new, force=force)


def test_an_untouched_file_is_rewritten() -> None:
    new = BASE.replace("b: 2", "b: 20")
    change = decide("x.yaml", BASE, BASE, new, force=False)
    assert (change.action, change.text, change.old_text) == ("update", new, BASE)
    assert change.writes


def test_a_file_already_equal_to_the_new_render_is_left_alone() -> None:
    change = decide("x.yaml", BASE, BASE, BASE, force=False)
    assert change.action == "unchanged" and not change.writes
    # ...also when the user made exactly the change scaffold makes now.
    new = BASE.replace("b: 2", "b: 20")
    assert decide("x.yaml", BASE, new, new, force=False).action == "unchanged"


def test_an_edited_file_whose_render_did_not_change_is_left_alone() -> None:
    mine = BASE.replace("e: 5", "e: 50  # mine")
    change = decide("x.yaml", BASE, mine, BASE, force=False)
    assert change.action == "unchanged" and not change.writes


def test_non_overlapping_edits_merge_silently() -> None:
    mine = BASE.replace("e: 5", "e: 50  # mine")
    new = BASE.replace("b: 2", "b: 20")
    change = decide("x.yaml", BASE, mine, new, force=False)
    assert change.action == "merge"
    assert change.text == "a: 1\nb: 20\nc: 3\nd: 4\ne: 50  # mine\nf: 6\n"
    assert change.old_text == mine


def test_overlapping_edits_conflict_with_both_sides_kept() -> None:
    mine = BASE.replace("c: 3", "c: 30  # mine")
    new = BASE.replace("c: 3", "c: 300")
    change = decide("x.yaml", BASE, mine, new, force=False)
    assert change.action == "conflict" and change.writes
    assert change.text is not None
    assert "c: 30  # mine\n" in change.text and "c: 300\n" in change.text
    assert change.text.startswith("a: 1\nb: 2\n<<<<<<<")
    assert change.text.endswith(">>>>>>> scaffold (new)\nd: 4\ne: 5\nf: 6\n")


def test_a_conflict_already_in_the_file_is_not_marked_again() -> None:
    mine = BASE.replace("c: 3", "c: 30  # mine")
    new = BASE.replace("c: 3", "c: 300")
    first = decide("x.yaml", BASE, mine, new, force=False)
    assert first.text is not None
    # The next run: base is the new render, the file holds the markers.
    again = decide("x.yaml", new, first.text, new, force=False)
    assert again.action == "unchanged"


def test_a_generated_file_the_user_deleted_is_skipped() -> None:
    change = decide("x.yaml", BASE, None, BASE.replace("b: 2", "b: 20"), force=False)
    assert change.action == "skip" and not change.writes


def test_a_new_file_is_created() -> None:
    change = decide("x.yaml", None, None, BASE, force=False)
    assert (change.action, change.text) == ("create", BASE)


def test_a_users_file_where_a_new_file_belongs_is_never_overwritten() -> None:
    mine = "# my own notes\nz: 26\n"
    change = decide("x.yaml", None, mine, BASE, force=False)
    assert change.action == "conflict"
    assert change.text is not None and mine in change.text and "<<<<<<<" in change.text
    # Identical content is simply adopted.
    assert decide("x.yaml", None, BASE, BASE, force=False).action == "unchanged"


@pytest.mark.parametrize(
    ("current", "force", "action"),
    [
        (BASE, False, "delete"),
        ("mine\n", False, "keep"),
        ("mine\n", True, "delete"),
        (None, False, "unchanged"),
        (None, True, "unchanged"),
    ],
)
def test_a_file_no_longer_rendered(current: str | None, force: bool, action: str) -> None:
    change = decide("x.yaml", BASE, current, None, force=force)
    assert change.action == action
    assert change.writes == (action == "delete")
    if action == "keep":
        assert change.text == current  # nothing the user wrote is dropped


@pytest.mark.parametrize(
    ("action", "writes"),
    [
        ("create", True),
        ("update", True),
        ("merge", True),
        ("conflict", True),
        ("delete", True),
        ("unchanged", False),
        ("skip", False),
        ("keep", False),
    ],
)
def test_which_actions_write(action: str, writes: bool) -> None:
    assert FileChange("x", action, "t").writes is writes


# ---------------------------------------------------------------------------------------------
# plan_sync on real trees


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sync")
    (base / "answers.yaml").write_text(MINIMAL, encoding="utf-8")
    root = base / "homelab"
    assert invoke("init", root, "--config", base / "answers.yaml").exit_code == 0
    return root


@pytest.fixture
def repo(rendered: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "homelab"
    shutil.copytree(rendered, dest)
    return dest


def plan_sync(root: Path, edit: Callable[[AnswersDocument], None] | None = None) -> Outcome:
    """The engine's plan for the repository at ``root`` (its answers edited by ``edit``)."""
    with Engine(root, RunOptions(dry_run=True)) as engine:
        repo = engine.open_repo()
        document = repo.document()
        if edit is not None:
            edit(document)
        return engine.plan(repo, document)


def state_text(plan: Outcome) -> str | None:
    return next(c.text for c in plan.changes if c.path == STATE_FILE)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_plan_on_an_unchanged_repo_writes_nothing(repo: Path) -> None:
    plan = plan_sync(repo)
    assert plan.writes == []
    assert plan.conflicts == []
    assert {c.action for c in plan.changes} == {"unchanged"}


def test_planning_never_touches_the_tree(repo: Path) -> None:
    before = tree(repo)

    def edit(document: AnswersDocument) -> None:
        document.add_component("longhorn", {})
        document.remove_component("test-app")

    plan = plan_sync(repo, edit)
    actions = {c.path: c.action for c in plan.writes}
    assert actions["kubernetes/system/longhorn/values.yaml"] == "create"
    assert actions["kubernetes/system/test-app/test-app.yml"] == "delete"
    assert actions["scaffold.yaml"] == "update"
    assert actions[STATE_FILE] == "update"
    assert plan.writes[-1].path == STATE_FILE  # the state goes last
    assert tree(repo) == before


def test_the_state_records_every_generated_file_as_rendered(repo: Path) -> None:
    files = json.loads((repo / STATE_FILE).read_text(encoding="utf-8"))["files"]
    on_disk = tree(repo)
    assert set(files) == set(on_disk) - {STATE_FILE, "scaffold.yaml"}
    for path, text in files.items():
        assert on_disk[path] == text.encode("utf-8"), path
    # Deterministic: rendering the same answers again gives byte-identical state.
    plan = plan_sync(repo)
    assert state_text(plan) == (repo / STATE_FILE).read_text(encoding="utf-8")


def test_without_a_state_nothing_the_user_wrote_is_overwritten(repo: Path) -> None:
    (repo / STATE_FILE).unlink()
    traefik = repo / "kubernetes/system/traefik/values.yaml"
    traefik.write_text(traefik.read_text() + "# mine\n", encoding="utf-8")
    plan = plan_sync(repo)
    actions = {c.path: c.action for c in plan.writes}
    # Identical files are adopted; the edited one is never silently replaced.
    assert actions == {"kubernetes/system/traefik/values.yaml": "conflict", STATE_FILE: "create"}
    conflict = next(c for c in plan.changes if c.action == "conflict")
    assert conflict.text is not None and "# mine\n" in conflict.text


def test_a_damaged_state_file_exits_2_with_a_way_out(repo: Path) -> None:
    (repo / STATE_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(RepoError, match="git checkout") as caught:
        plan_sync(repo)
    assert caught.value.exit_code == 2
    run = invoke("regenerate", "-C", repo)
    assert run.exit_code == 2 and STATE_FILE in run.stderr


def test_a_file_that_is_not_utf8_at_a_generated_path_is_refused_by_name(repo: Path) -> None:
    target = repo / "kubernetes/system/traefik/values.yaml"
    target.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RepoError, match="traefik/values.yaml is not UTF-8 text"):
        plan_sync(repo)
    run = invoke("regenerate", "-C", repo)
    assert run.exit_code == 2 and "traefik/values.yaml" in run.stderr
    assert target.read_bytes() == b"\xff\xfe\x00binary"


def test_a_folder_at_a_generated_path_is_a_repo_error(repo: Path) -> None:
    target = repo / "kubernetes/system/traefik/values.yaml"
    target.unlink()
    target.mkdir()
    with pytest.raises(RepoError, match="folder"):
        plan_sync(repo)


# ---------------------------------------------------------------------------------------------
# secrets: gitignored, created once, tracked by hash only


@pytest.fixture(scope="module")
def with_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("secrets")
    (base / "answers.yaml").write_text(MINIMAL + "  authelia: {}\n", encoding="utf-8")
    root = base / "homelab"
    assert invoke("init", root, "--config", base / "answers.yaml").exit_code == 0
    return root


def secret_values(root: Path) -> list[str]:
    data = yaml.safe_load((root / "secrets/values.yaml").read_text(encoding="utf-8"))
    return [str(v) for values in data.values() for v in values.values()]


def test_secret_values_never_reach_the_tracked_state(with_secrets: Path) -> None:
    values = secret_values(with_secrets)
    assert values and all(len(v) >= 16 for v in values)
    state = (with_secrets / STATE_FILE).read_text(encoding="utf-8")
    for value in values:
        assert value not in state
    assert not any(path.startswith("secrets/") for path in json.loads(state)["files"])


def test_kept_secret_values_are_reused_and_their_file_never_rewritten(
    with_secrets: Path, tmp_path: Path
) -> None:
    root = tmp_path / "homelab"
    shutil.copytree(with_secrets, root)
    values = root / "secrets/values.yaml"
    values.write_text(values.read_text(encoding="utf-8") + "# copied to the vault\n")
    before = tree(root)

    plan = plan_sync(root)

    assert plan.rendered.new_secrets == ()  # nothing generated again
    assert plan.writes == []
    assert tree(root) == before
