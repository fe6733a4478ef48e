"""The answers: scaffold.yaml reading/writing, --set overrides, defaults, value checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from homelab_scaffold.generate.answers import (
    DEFAULTS,
    PLACEHOLDER_REPO_URL,
    TOP_LEVEL_KEYS,
    Answers,
    apply_sets,
    parse_answers,
)
from homelab_scaffold.errors import ConfigError, UsageError
from homelab_scaffold.repo.answers_file import AnswersDocument, read_config_file
from homelab_scaffold.catalog.options import (
    check_domain,
    check_email,
    check_int,
    check_ip_ranges,
    check_url,
    check_version,
)


def test_the_contract_keys_are_accepted() -> None:
    assert {"repo_url", "target_revision", "domain", "components"} <= set(TOP_LEVEL_KEYS)
    answers = parse_answers(
        {
            "repo_url": "https://github.com/alice/homelab-infrastructure.git",
            "target_revision": "main",
            "domain": "lab.example.com",
            "components": {"metallb": {"addresses": ["192.168.1.240-192.168.1.250"]}},
        },
        "scaffold.yaml",
    )
    assert answers.repo_url == "https://github.com/alice/homelab-infrastructure.git"
    assert answers.components["metallb"]["addresses"] == ["192.168.1.240-192.168.1.250"]
    assert not answers.repo_url_is_placeholder


def test_defaults_fill_what_is_missing() -> None:
    answers = parse_answers({}, "defaults")
    assert answers.domain == DEFAULTS["domain"]
    assert answers.target_revision == "main"
    assert answers.repo_url == PLACEHOLDER_REPO_URL
    assert answers.repo_url_is_placeholder
    assert dict(answers.components) == {}


def test_null_options_mean_defaults() -> None:
    answers = parse_answers({"components": {"traefik": None}}, "x")
    assert dict(answers.components["traefik"]) == {}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"domian": "x"}, ("domian", "did you mean domain?")),
        ({"nonsense": "x"}, ("nonsense", "valid keys")),
        ({"domain": "LAB"}, ("domain", "'LAB'")),
        ({"email": "x@"}, ("email", "'x@'")),
        ({"repo_url": "ftp://x/y"}, ("repo_url", "ftp://x/y")),
        ({"target_revision": "a..b"}, ("target_revision", "a..b")),
        ({"components": "traefik"}, ("components", "mapping")),
        ({"components": {"traefik": ["a"]}}, ("components.traefik", "mapping")),
        ({"catalog_paths": "catalog"}, ("catalog_paths", "list")),
    ],
)
def test_bad_answers_are_config_errors_naming_the_key(
    data: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_answers(data, "my.yaml")
    message = error.value.message
    assert message.startswith("my.yaml: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# ---------------------------------------------------------------------------------------------
# --set


def test_set_writes_dotted_keys() -> None:
    result = apply_sets(
        {"components": {"traefik": {}}},
        ["domain=lab.example.org", "components.metallb.addresses=10.0.0.1-10.0.0.9"],
    )
    assert result == {
        "domain": "lab.example.org",
        "components": {"traefik": {}, "metallb": {"addresses": "10.0.0.1-10.0.0.9"}},
    }


def test_set_of_a_bare_component_selects_it() -> None:
    assert apply_sets({}, ["components.longhorn="]) == {"components": {"longhorn": {}}}


def test_set_of_a_bare_component_with_a_value_is_refused() -> None:
    # The value would otherwise be dropped without a word.
    with pytest.raises(UsageError, match="OPTION=VALUE"):
        apply_sets({}, ["components.longhorn=3"])


def test_set_keeps_the_value_after_the_first_equals_sign() -> None:
    result = apply_sets({}, ["repo_url=https://example.org/a.git?x=1"])
    assert result["repo_url"] == "https://example.org/a.git?x=1"


def test_set_does_not_change_its_input() -> None:
    data: dict[str, Any] = {"components": {"traefik": {}}}
    apply_sets(data, ["components.traefik.log_level=DEBUG"])
    assert data == {"components": {"traefik": {}}}


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("domain", "KEY=VALUE"),
        ("=lab.example.org", "KEY=VALUE"),
        ("colour=blue", "unknown setting"),
        ("components.a.b.c=1", "unknown setting"),
        ("domain.sub=x", "unknown setting"),
    ],
)
def test_bad_set_items_are_usage_errors(item: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment) as error:
        apply_sets({}, [item])
    assert "\n" not in error.value.message


# ---------------------------------------------------------------------------------------------
# Reading and writing scaffold.yaml


def test_read_keeps_comments_for_later_edits(tmp_path: Path) -> None:
    path = tmp_path / "scaffold.yaml"
    path.write_text("# mine\ndomain: lab.example.com  # the lab\ncomponents: {}\n")
    data = read_config_file(path)
    assert data["domain"] == "lab.example.com"
    assert data.ca.items["domain"]  # the end-of-line comment survived the load


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00binary", "not a text file"),
        (b"domain: a\x00b\n", "not a text file"),
        (b"- a\n", "mapping"),
        (b"a: [\n", "not valid YAML"),
        (b"a: 1\na: 2\n", "duplicate key"),
    ],
)
def test_unreadable_answer_files_are_one_line_errors(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment) as error:
        read_config_file(path)
    assert str(path) in error.value.message
    assert "\n" not in error.value.message


def test_a_folder_is_not_an_answers_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        read_config_file(tmp_path)
    assert str(tmp_path) in error.value.message


def _answers(**overrides: Any) -> Answers:
    data = {
        "repo_url": "https://github.com/alice/homelab.git",
        "domain": "lab.example.org",
        "email": "alice@example.org",
        "components": {
            "metallb": {"addresses": ["10.0.20.200-10.0.20.240"]},
            "traefik": {},
            "cert-manager": {"version": "v1.14.4"},
        },
        **overrides,
    }
    return parse_answers(data, "test")


def test_dump_then_read_gives_the_same_answers(tmp_path: Path) -> None:
    answers = _answers()
    path = tmp_path / "scaffold.yaml"
    path.write_text(AnswersDocument.fresh(answers).text())
    assert parse_answers(read_config_file(path), "again") == answers


def test_dump_is_readable_and_marks_the_placeholder() -> None:
    text = AnswersDocument.fresh(_answers(repo_url=None)).text()
    assert text.startswith("# ")
    (line,) = [line for line in text.splitlines() if line.startswith("repo_url:")]
    assert PLACEHOLDER_REPO_URL in line and "CHANGE ME" in line
    assert "  traefik: {}\n" in text
    assert "CHANGE ME" not in AnswersDocument.fresh(_answers()).text()


# ---------------------------------------------------------------------------------------------
# Value checks


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        (["192.168.1.240-192.168.1.250"], ["192.168.1.240-192.168.1.250"]),
        ("10.0.0.1 - 10.0.0.9, 10.0.1.0/28", ["10.0.0.1-10.0.0.9", "10.0.1.0/28"]),
        (["10.0.0.7"], ["10.0.0.7-10.0.0.7"]),
        (["fd00::10-fd00::20"], ["fd00::10-fd00::20"]),
        (["fd00::/120"], ["fd00::/120"]),
    ],
)
def test_ip_ranges_accepted(value: Any, normalised: list[str]) -> None:
    assert check_ip_ranges(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        [],
        "",
        ["10.0.0.300-10.0.0.310"],
        ["10.0.0.9-10.0.0.1"],
        ["10.0.0.0/33"],
        ["10.0.0.5/24"],
        ["10.0.0.1-fd00::1"],
        ["lan"],
        [42],
        {"from": "10.0.0.1"},
    ],
)
def test_ip_ranges_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match=r"such as|range|CIDR"):
        check_ip_ranges(value)


@pytest.mark.parametrize("value", ["lab.example.com", "a-b.example.org", "x.y.z.example"])
def test_domains_accepted(value: str) -> None:
    assert check_domain(value) == value


@pytest.mark.parametrize(
    "value", ["localhost", "Lab.Example.com", "-a.example.com", "a..b", "a_b.example.com", 3, ""]
)
def test_domains_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape("lab.example.com")):
        check_domain(value)


@pytest.mark.parametrize("value", ["admin@example.com", "a.b+c@lab.example.org"])
def test_emails_accepted(value: str) -> None:
    assert check_email(value) == value


@pytest.mark.parametrize("value", ["admin", "admin@", "@example.com", "a@b", "a@@example.com", 1])
def test_emails_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape("admin@example.com")):
        check_email(value)


@pytest.mark.parametrize("value", ["1.2.3", "v1.21.1", "1.2.3-rc.1", "10.1.1+build.5", "0.1.0"])
def test_versions_accepted(value: str) -> None:
    assert check_version(value) == value


@pytest.mark.parametrize(
    "value", ["latest", "stable", "v", "1", "1.x", "1.2.3.4", "", None, True, "1.2", "v1.21", 41]
)
def test_versions_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="version such as"):
        check_version(value)


def test_a_version_yaml_reads_as_a_number_is_refused_as_partial() -> None:
    with pytest.raises(ValueError, match=re.escape('"1.21.0" (MAJOR.MINOR.PATCH)')):
        check_version(1.21)


@pytest.mark.parametrize(
    "value",
    ["https://github.com/a/b.git", "ssh://git@host/a/b.git", "git@github.com:a/b.git"],
)
def test_repo_urls_accepted(value: str) -> None:
    assert check_url(value) == value


@pytest.mark.parametrize("value", ["github.com/a/b", "https://", "file:///srv/repo", "a b"])
def test_repo_urls_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="such as"):
        check_url(value)


def test_int_accepts_text_but_not_bools() -> None:
    assert check_int("3") == 3
    for bad in (True, "three", "1.5"):
        with pytest.raises(ValueError, match="whole number"):
            check_int(bad)
