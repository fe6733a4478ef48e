"""The per-user cache: results by text hash, bounded, safe when several scaffolds share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_scaffold import usercache


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def counting(result: Any) -> tuple[list[str], Any]:
    calls: list[str] = []

    def compute(text: str) -> Any:
        calls.append(text)
        return result

    return calls, compute


def test_a_result_is_computed_once_per_text() -> None:
    calls, compute = counting({"a": [1, 2.5, None, True]})
    assert usercache.cached_result("kind", "text", compute) == {"a": [1, 2.5, None, True]}
    assert usercache.cached_result("kind", "text", compute) == {"a": [1, 2.5, None, True]}
    assert usercache.cached_result("kind", "other text", compute) == {"a": [1, 2.5, None, True]}
    assert calls == ["text", "other text"]


def test_only_exact_json_round_trips_are_kept() -> None:
    calls, compute = counting({1: "an int key JSON would turn into a string"})
    usercache.cached_result("kind", "text", compute)
    usercache.cached_result("kind", "text", compute)
    assert calls == ["text", "text"]


def test_a_failing_computation_is_not_cached() -> None:
    def broken(text: str) -> Any:
        raise ValueError("bad input")

    for _ in range(2):
        with pytest.raises(ValueError, match="bad input"):
            usercache.cached_result("kind", "text", broken)


def test_each_kind_keeps_its_most_recent_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usercache, "MAX_ENTRIES", 3)
    for index in range(6):
        usercache.cached_result("kind", f"text {index}", lambda text: text)
    assert len(list(usercache.user_cache_dir("kind").glob("*.json"))) == 3


def test_an_entry_removed_by_another_process_while_pruning_is_fine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(usercache, "MAX_ENTRIES", 2)
    for index in range(3):
        usercache.cached_result("kind", f"text {index}", lambda text: text)
    real_stat = Path.stat

    def vanishing(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.suffix == ".json" and self.parent.name == "kind":
            self.unlink(missing_ok=True)  # the other process got there first
            raise FileNotFoundError(self)
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", vanishing)
    assert usercache.cached_result("kind", "text 9", lambda text: text) == "text 9"


def test_an_unwritable_cache_only_costs_the_work(private_cache: Path) -> None:
    private_cache.mkdir()
    (private_cache / "scaffold").write_text("a file where the folder belongs")
    calls, compute = counting(["x"])
    assert usercache.cached_result("kind", "text", compute) == ["x"]
    assert usercache.cached_result("kind", "text", compute) == ["x"]
    assert calls == ["text", "text"]
