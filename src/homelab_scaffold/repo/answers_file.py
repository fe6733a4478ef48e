"""``scaffold.yaml`` as the user wrote it, and the one place that edits it.

The file is read with ruamel.yaml's round-trip loader and every edit (init's first version, a
``--config`` file completed with what the selection needed, ``add``, ``upgrade``, ``remove``, the
automatically selected sealed-secrets controller) goes through :class:`AnswersDocument`, so the
user's comments, key order and quoting survive, and comment lines that follow the last entry stay
below whatever is appended.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from homelab_scaffold.errors import ConfigError
from homelab_scaffold.generate.answers import ANSWERS_FILE, Answers, parse_answers, to_plain
from homelab_scaffold.generate.yamltext import dump_yaml, load_yaml_text

_HEADER = """\
scaffold answers: the one source `scaffold regenerate` renders this repository from.
Edit by hand, then run `scaffold regenerate` (or `scaffold diff` to preview).
Options of every component: `scaffold list --options`.
"""
_PLACEHOLDER_COMMENT = "CHANGE ME: the Git URL ArgoCD pulls this repo from"
_SECRETS_COMMENT = "sealed-secrets: SealedSecrets in Git | manual: Secret manifests in secrets/"
GLOBAL_ORDER = ("repo_url", "target_revision", "domain", "email", "timezone", "secrets")


def parse_answers_text(raw: bytes, source: str) -> Any:
    """The round-trip mapping of an answers file's bytes.

    Raises:
        ConfigError: Not UTF-8 text, not YAML, over the caps, empty, or not a mapping.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not a text file (expected UTF-8 YAML)") from None
    if "\x00" in text:
        raise ConfigError(f"{source}: not a text file (expected UTF-8 YAML)")
    data = load_yaml_text(text, source)
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with a 'components' key"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    return data


def read_config_file(path: Path) -> Any:
    """A ``--config`` answers file (anywhere the user points), as a round-trip mapping."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_answers_text(raw, str(path))


class AnswersDocument:
    """The answers as round-trip YAML, with the edits scaffold makes to them."""

    def __init__(self, doc: CommentedMap, text: str | None = None) -> None:
        self.doc = doc
        self.original_text = text
        # What the original text says, to tell an edit from a no-op without parsing it again.
        self._original_plain = to_plain(doc) if text is not None else None

    @classmethod
    def from_bytes(cls, raw: bytes, source: str = ANSWERS_FILE) -> AnswersDocument:
        """scaffold.yaml's bytes as a document (its text kept, so no edit means no change)."""
        doc = parse_answers_text(raw, source)
        return cls(doc, raw.decode("utf-8"))

    @classmethod
    def fresh(cls, answers: Answers) -> AnswersDocument:
        """A new scaffold.yaml for ``answers`` (init without a config file), with comments."""
        doc = CommentedMap()
        doc["repo_url"] = answers.repo_url
        if answers.repo_url_is_placeholder:
            doc.yaml_add_eol_comment(_PLACEHOLDER_COMMENT, "repo_url")
        for key in GLOBAL_ORDER[1:]:
            doc[key] = getattr(answers, key)
        doc.yaml_add_eol_comment(_SECRETS_COMMENT, "secrets")
        if answers.catalog_paths:
            doc["catalog_paths"] = list(answers.catalog_paths)
        doc["components"] = CommentedMap()
        doc.yaml_set_start_comment(_HEADER)
        document = cls(doc)
        for name, options in answers.components.items():
            document.components()[name] = _new_entry(dict(options), block=False)
        return document

    def copy(self) -> AnswersDocument:
        """An independent copy to edit."""
        twin = AnswersDocument(copy.deepcopy(self.doc))
        twin.original_text, twin._original_plain = self.original_text, self._original_plain
        return twin

    # -- reading ----------------------------------------------------------------------------

    def plain(self) -> Any:
        """The answers as plain dicts, lists and scalars."""
        return to_plain(self.doc)

    def answers(self, source: str = ANSWERS_FILE) -> Answers:
        """The checked answers.

        Raises:
            ConfigError: A key or value is not valid.
        """
        return parse_answers(self.doc, source)

    def components(self) -> CommentedMap:
        """The ``components`` mapping (created when missing).

        Raises:
            ConfigError: ``components`` is not a mapping.
        """
        components = self.doc.get("components")
        if components is None:
            components = CommentedMap()
            self.doc["components"] = components
        if not isinstance(components, CommentedMap):
            raise ConfigError(f"{ANSWERS_FILE}: components: expected a mapping of name -> options")
        return components

    def component_names(self) -> list[str]:
        """The components listed, in file order."""
        return [str(name) for name in self.components()]

    def options_of(self, name: str) -> Mapping[str, Any]:
        """The options written for ``name`` ({} when none or not listed)."""
        entry = self.components().get(name)
        return entry if isinstance(entry, dict) else {}

    def text(self) -> str:
        """The file's text: the original bytes when nothing changed, else the edited document."""
        if self.original_text is not None and not self.changed():
            return self.original_text
        return dump_yaml(self.doc)

    def changed(self) -> bool:
        """True when the document no longer says what the original text said."""
        return self._original_plain is None or bool(to_plain(self.doc) != self._original_plain)

    # -- editing ----------------------------------------------------------------------------

    def set_global(self, key: str, value: Any) -> None:
        """Set a global setting, inserting a missing one where scaffold writes it."""
        if key in self.doc:
            if self.doc[key] != value:
                self.doc[key] = value
            return
        position = GLOBAL_ORDER.index(key) if key in GLOBAL_ORDER else len(self.doc)
        self.doc.insert(min(position, len(self.doc)), key, value)

    def add_component(self, name: str, options: Mapping[str, Any]) -> None:
        """List ``name`` with ``options``, or set those options on its existing entry."""
        components = self.components()
        entry = components.get(name)
        if name not in components:
            # Filled before it is appended, so the comment lines after the last entry move below.
            _append_entry(components, name, _new_entry(dict(options), block=True))
        elif not isinstance(entry, CommentedMap):
            components[name] = _new_entry(dict(options), block=True)
        else:
            for key, value in options.items():
                entry[key] = value
            if options:
                entry.fa.set_block_style()

    def complete_component(self, name: str, options: Mapping[str, Any]) -> None:
        """Make sure ``name`` is listed with at least ``options``; values already there stay
        unless they differ (init completing a ``--config`` file with what the plan resolved)."""
        components = self.components()
        if name not in components:
            components[name] = _new_entry(dict(options), block=False)
            return
        if options and components[name] is None:
            components[name] = CommentedMap()
        entry = components[name]
        if options and isinstance(entry, CommentedMap) and not entry:
            _style_filled_entry(components, name)
        for key, value in options.items():
            if entry.get(key) != value:
                entry[key] = value

    def set_option(self, name: str, key: str, value: Any) -> None:
        """Set one option of a listed component."""
        components = self.components()
        entry = components.get(name)
        if not isinstance(entry, CommentedMap):
            entry = _new_entry({}, block=False)
            components[name] = entry
        entry[key] = value

    def remove_component(self, name: str) -> None:
        """Drop ``name`` from the components."""
        del self.components()[name]


def _new_entry(values: dict[str, Any], *, block: bool) -> CommentedMap:
    result = CommentedMap(
        {k: CommentedSeq(v) if isinstance(v, list) and block else v for k, v in values.items()}
    )
    if values and block:
        result.fa.set_block_style()
    elif not values:
        result.fa.set_flow_style()
    return result


def _style_filled_entry(components: CommentedMap, name: str) -> None:
    """An empty ``name: {}`` that gains options (its chart version) becomes a block, the way
    scaffold writes new entries; with a comment after it, flow style keeps the comment in place."""
    if name in components.ca.items:
        components[name].fa.set_flow_style()
    else:
        components[name].fa.set_block_style()


def _last_entry(mapping: CommentedMap) -> tuple[CommentedMap | CommentedSeq, Any, int]:
    """Where the comment lines after ``mapping`` hang: the innermost collection holding its last
    line, that line's key or index (None when empty), and the slot of ``ca.items`` they use."""
    node: CommentedMap | CommentedSeq = mapping
    last: Any = None
    while len(node):
        last = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        value = node[last]
        if not (isinstance(value, CommentedMap | CommentedSeq) and len(value)):
            break
        if value.fa.flow_style():
            # A flow collection is one line: its comment hangs on the parent's entry.
            break
        node = value
    return node, last, 0 if isinstance(node, CommentedSeq) else 2


def _detach_trailing_comment(mapping: CommentedMap) -> str | None:
    """Cut the comment lines that follow the last entry (they belong to what comes after)."""
    node, last, slot = _last_entry(mapping)
    token = node.ca.items.get(last, [None, None, None, None])[slot] if last is not None else None
    if token is None:
        return None
    first, _, rest = token.value.partition("\n")
    if not rest:
        return None
    token.value = first + "\n"
    return str(rest)


def _append_entry(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add ``key`` at the end of ``mapping`` keeping comments attached where they belong."""
    trailing = _detach_trailing_comment(mapping)
    mapping[key] = value
    if trailing is not None:
        node, last, slot = _last_entry(mapping)
        comment: list[CommentToken | None] = [None, None, None, None]
        comment[slot] = CommentToken("\n" + trailing, CommentMark(0), None)
        node.ca.items[last] = comment
