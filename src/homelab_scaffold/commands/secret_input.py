"""Secret values users give in files (a deploy key, a token file): read with a size cap,
checked, and never shown in a message."""

from __future__ import annotations

from pathlib import Path

from homelab_scaffold.catalog.model import ProvidedSecret
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.secret_values import check_secret_value

# A secret file is a key or a token: anything larger is the wrong file.
MAX_SECRET_FILE_BYTES = 64 * 1024


def read_secret_file(path: Path, provided: ProvidedSecret, what: str) -> str:
    """The checked value of a provided secret read from a file (never shown in a message).

    Raises:
        UsageError: The file cannot be read, is too large, not text, or not a valid value.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise UsageError(f"{what} {path}: larger than {MAX_SECRET_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not a text file") from None
    try:
        return check_secret_value(provided.name, text, provided)
    except UsageError as exc:
        raise UsageError(f"{what} {path}: {exc.format_message()}") from None


def file_problem(path: Path, provided: ProvidedSecret) -> str | None:
    """What is wrong with ``path`` as the file of ``provided`` (None: nothing), for a prompt."""
    try:
        read_secret_file(path, provided, "file")
    except UsageError as exc:
        return exc.format_message()
    return None
