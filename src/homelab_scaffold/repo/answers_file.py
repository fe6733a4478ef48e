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

from homelab_scaffold.catalog.options import REPO_AUTH_HTTPS, REPO_AUTH_NONE
from homelab_scaffold.errors import ConfigError
from homelab_scaffold.generate.answers import (
    ANSWERS_FILE,
    KNOWN_HOSTS_KEY,
    Answers,
    parse_answers,
    to_plain,
)
from homelab_scaffold.generate.yamltext import dump_yaml, load_yaml_text
from homelab_scaffold.usercache import cached_result, remember

_HEADER = """\
scaffold answers: the one source `scaffold regenerate` renders this repository from.
Edit by hand, then run `scaffold regenerate` (or `scaffold diff` to preview).
Options of every component: `scaffold list --options`.
"""
_PLACEHOLDER_COMMENT = "CHANGE ME: the Git URL ArgoCD pulls this repo from"
_SECRETS_COMMENT = "sealed-secrets: SealedSecrets in Git | manual: Secret manifests in secrets/"
# Secret scanners (detect-secrets) read a key named like "secrets" with a value as a leaked
# secret; this end-of-line comment tells them it is none.
_NOT_A_SECRET = "pragma: allowlist secret"
SECRETS_KEY = "secrets"
CACHE_KIND = "answers"
GLOBAL_ORDER = (
    "repo_url",
    "repo_auth",
    "repo_username",
    KNOWN_HOSTS_KEY,
    "target_revision",
    "domain",
    "email",
    "timezone",
    "secrets",
)


def _stated_in_fresh(answers: Answers, key: str) -> bool:
    """A public repository's scaffold.yaml says nothing about repository credentials."""
    if key == "repo_auth":
        return answers.repo_auth != REPO_AUTH_NONE
    if key == "repo_username":
        return answers.repo_auth == REPO_AUTH_HTTPS
    if key == KNOWN_HOSTS_KEY:
        return bool(answers.repo_known_hosts)
    return True


def _answers_text(raw: bytes, source: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not a text file (expected UTF-8 YAML)") from None
    if "\x00" in text:
        raise ConfigError(f"{source}: not a text file (expected UTF-8 YAML)")
    return text


ANSWERS_SHAPE = "a mapping with a 'components' key"


def parse_answers_text(raw: bytes, source: str, shape: str = ANSWERS_SHAPE) -> Any:
    """The round-trip mapping of an answers file's bytes.

    Args:
        raw: The file's bytes.
        source: Its name in messages.
        shape: What the file holds, for the message about an empty one.

    Raises:
        ConfigError: Not UTF-8 text, not YAML, over the caps, empty, or not a mapping.
    """
    data = load_yaml_text(_answers_text(raw, source), source)
    if data is None:
        raise ConfigError(f"{source}: the file is empty; expected {shape}")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    return data


def cached_plain(text: str, source: str = ANSWERS_FILE) -> Any:
    """The plain data of an answers text, from the user's cache when this text was read before
    (ruamel.yaml's careful parse of a 300-component file costs a quarter of a second).

    Raises:
        ConfigError: The text is not a valid answers file.
    """

    def parse(text: str) -> Any:
        return to_plain(parse_answers_text(text.encode("utf-8"), source))

    return cached_result(CACHE_KIND, text, parse)


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
    """The answers as round-trip YAML, with the edits scaffold makes to them.

    Reading is cheap: a document made from a file's bytes keeps the text and reads its plain
    data from a cache keyed by the text's hash (``answers_cache``); ruamel.yaml's round-trip
    parse, needed to keep comments through an edit, runs only when something is edited.
    """

    def __init__(self, doc: CommentedMap | None = None, text: str | None = None) -> None:
        self._doc = doc
        self.original_text = text
        # What the original text says, to tell an edit from a no-op without parsing it again.
        self._original_plain: Any = to_plain(doc) if text is not None and doc is not None else None
        # An edit made on the text itself (see _append_as_text): the new text and its data.
        self._text: str | None = None
        self._plain: Any = None
        if doc is None and text is None:
            self._doc = CommentedMap()

    @classmethod
    def from_bytes(cls, raw: bytes, source: str = ANSWERS_FILE) -> AnswersDocument:
        """scaffold.yaml's bytes as a document (its text kept, so no edit means no change).

        Raises:
            ConfigError: Not UTF-8 YAML holding a mapping (checked now, not at first use).
        """
        text = _answers_text(raw, source)
        document = cls(None, text)
        document._original_plain = cached_plain(text, source)
        return document

    @classmethod
    def fresh(cls, answers: Answers) -> AnswersDocument:
        """A new scaffold.yaml for ``answers`` (init without a config file), with comments."""
        doc = CommentedMap()
        doc["repo_url"] = answers.repo_url
        if answers.repo_url_is_placeholder:
            doc.yaml_add_eol_comment(_PLACEHOLDER_COMMENT, "repo_url")
        for key in GLOBAL_ORDER[1:]:
            if _stated_in_fresh(answers, key):
                value = getattr(answers, key)
                doc[key] = list(value) if isinstance(value, tuple) else value
        _mark_not_a_secret(doc, SECRETS_KEY)
        if answers.catalog_paths:
            doc["catalog_paths"] = list(answers.catalog_paths)
        doc["components"] = CommentedMap()
        doc.yaml_set_start_comment(_HEADER)
        document = cls(doc)
        for name, options in answers.components.items():
            document.components()[name] = _new_entry(dict(options), block=False)
        return document

    @property
    def doc(self) -> CommentedMap:
        """The round-trip document (parsed on first use)."""
        if self._doc is None:
            current = self._text if self._text is not None else self.original_text or ""
            self._doc = parse_answers_text(current.encode("utf-8"), ANSWERS_FILE)
            self._text = self._plain = None
        return self._doc

    def copy(self) -> AnswersDocument:
        """An independent copy to edit."""
        twin = AnswersDocument(
            copy.deepcopy(self._doc) if self._doc is not None else None, self.original_text
        )
        twin._original_plain = self._original_plain
        twin._text, twin._plain = self._text, copy.deepcopy(self._plain)
        return twin

    # -- reading ----------------------------------------------------------------------------

    def plain(self) -> Any:
        """The answers as plain dicts, lists and scalars."""
        if self._doc is not None:
            return to_plain(self._doc)
        return copy.deepcopy(self._plain if self._text is not None else self._original_plain)

    def answers(self, source: str = ANSWERS_FILE) -> Answers:
        """The checked answers.

        Raises:
            ConfigError: A key or value is not valid.
        """
        return parse_answers(self.plain(), source)

    def components(self) -> CommentedMap:
        """The ``components`` mapping (created when missing), for editing.

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

    def _components_view(self) -> Any:
        """The ``components`` value as it is held (not copied): only for reading one entry,
        so a command that looks at every component does not copy the whole file each time."""
        if self._doc is not None:
            held: Any = self._doc
        else:
            held = self._plain if self._text is not None else self._original_plain
        return held.get("components") if isinstance(held, dict) else None

    def component_names(self) -> list[str]:
        """The components listed, in file order."""
        components = self._components_view()
        if components is not None and not isinstance(components, dict):
            raise ConfigError(f"{ANSWERS_FILE}: components: expected a mapping of name -> options")
        return [str(name) for name in components or {}]

    def entry(self, name: str) -> Any:
        """What is written under ``components.<name>`` (None when it is not listed), as plain
        data the caller may keep."""
        components = self._components_view()
        found = components.get(name) if isinstance(components, dict) else None
        return to_plain(found) if self._doc is not None else copy.deepcopy(found)

    def options_of(self, name: str) -> Mapping[str, Any]:
        """The options written for ``name`` ({} when none or not listed)."""
        entry = self.entry(name)
        return entry if isinstance(entry, dict) else {}

    def text(self) -> str:
        """The file's text: the original bytes when nothing changed, else the edited document."""
        if self.original_text is not None and not self.changed():
            return self.original_text
        if self._doc is None and self._text is not None:
            return self._text
        return dump_yaml(self.doc)

    def changed(self) -> bool:
        """True when the document no longer says what the original text said."""
        if self._doc is None:
            return self.original_text is None or self._text is not None
        return self._original_plain is None or bool(to_plain(self._doc) != self._original_plain)

    # -- editing ----------------------------------------------------------------------------

    def _append_as_text(self, name: str, options: Mapping[str, Any]) -> bool:
        """Add a new component entry by inserting its lines after the last entry's, without the
        round-trip parse (the common ``scaffold add``). False when the file's shape asks for the
        careful way (no block ``components`` mapping, the name already there)."""
        text = self._text if self._text is not None else self.original_text
        plain = self.plain()
        components = plain.get("components") if isinstance(plain, dict) else None
        if text is None or not isinstance(components, dict) or not components or name in components:
            return False
        spot = _insertion_point(text)
        if spot is None:
            return False
        position, column = spot
        entry = dump_yaml(CommentedMap({name: _new_entry(dict(options), block=True)}))
        lines = "".join(
            " " * column + line if line.strip() else line
            for line in entry.splitlines(keepends=True)
        )
        new_text = text[:position] + lines + text[position:]
        new_plain = {**plain, "components": {**components, name: to_plain(dict(options))}}
        if not _reads_as(new_text, new_plain):
            return False
        self._text, self._plain = new_text, new_plain
        remember(CACHE_KIND, new_text, new_plain)
        return True

    def set_global(self, key: str, value: Any) -> None:
        """Set a global setting, inserting a missing one where scaffold writes it."""
        if key in self.doc:
            if self.doc[key] != value:
                self.doc[key] = value
        else:
            position = GLOBAL_ORDER.index(key) if key in GLOBAL_ORDER else len(self.doc)
            self.doc.insert(min(position, len(self.doc)), key, value)
        if key == SECRETS_KEY:
            _mark_not_a_secret(self.doc, key)

    def add_component(self, name: str, options: Mapping[str, Any]) -> None:
        """List ``name`` with ``options``, or set those options on its existing entry."""
        if self._doc is None and self._append_as_text(name, options):
            return
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


def _mark_not_a_secret(doc: CommentedMap, key: str) -> None:
    """End ``key``'s line with the comment that tells secret scanners its value is no secret
    (after the comment already there, or after scaffold's explanation of the values)."""
    token = (doc.ca.items.get(key) or [None, None, None])[2]
    comment = token.value.strip().removeprefix("#").strip() if token is not None else ""
    if _NOT_A_SECRET in comment:
        return
    doc.yaml_add_eol_comment(f"{comment or _SECRETS_COMMENT}  # {_NOT_A_SECRET}", key)


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


def _insertion_point(text: str) -> tuple[int, int] | None:
    """Where a new component entry goes: just after the last line of the last entry of the
    block ``components`` mapping (comment lines after it stay below the new entry), and the
    column its keys are written at. None when the file is not in that shape."""
    import yaml

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    value = next((v for k, v in root.value if getattr(k, "value", None) == "components"), None)
    if not isinstance(value, yaml.MappingNode) or value.flow_style or not value.value:
        return None
    column = value.value[0][0].start_mark.column
    leaf = value.value[-1][1]
    while (
        isinstance(leaf, yaml.MappingNode | yaml.SequenceNode)
        and leaf.value
        and not leaf.flow_style
    ):
        last = leaf.value[-1]
        leaf = last[1] if isinstance(leaf, yaml.MappingNode) else last
    end = text.find("\n", leaf.end_mark.index)
    return (len(text) if end < 0 else end + 1), column


def _reads_as(text: str, expected: Any) -> bool:
    """True when ``text`` holds ``expected`` where it matters (the components, in order)."""
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        return False
    ours, theirs = data["components"], expected["components"]
    names = list(theirs)
    return list(ours) == names and ours[names[-1]] == theirs[names[-1]]
