"""Caps on YAML from outside: size, nesting depth and alias expansion, checked cheaply."""

from __future__ import annotations

import pytest

from homelab_scaffold.yamlio import Limits, YAMLLimitError, check_yaml_limits


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, levels):
        alias = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([alias] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_anything_expands_it() -> None:
    with pytest.raises(YAMLLimitError, match="expands through aliases"):
        check_yaml_limits(bomb(9))


def test_a_few_ordinary_aliases_pass() -> None:
    check_yaml_limits(bomb(3))
    check_yaml_limits("base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n")


@pytest.mark.parametrize(
    "text",
    ["a: " + "[" * 70 + "]" * 70 + "\n", "- " * 70 + "x\n", "".join(" " * i + "a:\n" for i in range(70))],
)
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(YAMLLimitError, match="nested more than 64 levels"):
        check_yaml_limits(text)


def test_a_large_text_is_refused_by_size() -> None:
    with pytest.raises(YAMLLimitError, match="larger than"):
        check_yaml_limits("a: 1\n" * 10, Limits(max_bytes=20))


def test_syntax_errors_are_left_to_the_parser_that_words_them_better() -> None:
    check_yaml_limits("a: [unclosed\n")


def test_limits_are_per_caller() -> None:
    check_yaml_limits(bomb(6), Limits(max_expanded_nodes=10_000_000))
    with pytest.raises(YAMLLimitError):
        check_yaml_limits(bomb(6), Limits(max_expanded_nodes=1_000))
