"""Where the shipped templates live.

A wheel carries them inside the package (hatch force-includes the top-level ``templates/``), read
through ``importlib.resources``. An editable install (``pip install -e .``) imports the package
from ``src/``, where no copy exists: its PEP 610 record (``direct_url.json``) names the source
tree, whose ``templates/`` is then used directly, so template edits show without reinstalling.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "homelab-scaffold"


@cache
def templates_root() -> Path:
    """The ``templates/`` folder of this installation."""
    packaged = Path(str(files("homelab_scaffold") / "templates"))
    if packaged.is_dir():
        return packaged
    source = _editable_source_tree()
    if source is not None and (source / "templates").is_dir():
        return source / "templates"
    raise FileNotFoundError(f"scaffold's templates are missing from the installation: {packaged}")


def shown_path(path: str | Path) -> str:
    """A path for messages: a shipped file as ``templates/...``, any other file as it is."""
    root = str(templates_root())
    text = str(path)
    return "templates" + text[len(root) :] if text.startswith(root + "/") else text


def _editable_source_tree() -> Path | None:
    """The project folder of an editable install, from its ``direct_url.json`` (PEP 610)."""
    from importlib import metadata

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        record = json.loads(text or "{}")
    except ValueError:
        return None
    if not isinstance(record, dict) or not (record.get("dir_info") or {}).get("editable"):
        return None
    url = urlparse(str(record.get("url", "")))
    return Path(unquote(url.path)) if url.scheme == "file" else None
