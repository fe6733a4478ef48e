"""Secret values users give in files (a deploy key, a token file): read with a size cap,
checked, and never shown in a message."""

from __future__ import annotations

from pathlib import Path

from homelab_scaffold.catalog.model import ProvidedSecret
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.secret_values import check_secret_value

# A secret file is a key or a token: anything larger is the wrong file.
MAX_SECRET_FILE_BYTES = 64 * 1024


def read_capped(path: Path, cap: int, named: str, one: str = "give a file") -> bytes:
    """The bytes of a file the user named, reading no more than ``cap`` + 1 bytes (a huge file
    or a device such as /dev/zero costs one line, not the memory); ``named`` is how messages
    name it, ``one`` what to give instead of a folder.

    Raises:
        UsageError: No such file, a folder, unreadable, or larger than ``cap`` bytes.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(cap + 1)
    except FileNotFoundError:
        raise UsageError(f"{named}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{named} is a folder; {one}") from None
    except OSError as exc:
        raise UsageError(f"{named}: cannot read it ({exc.strerror})") from None
    if len(raw) > cap:
        raise UsageError(f"{named}: larger than {cap} bytes")
    return raw


def read_secret_file(path: Path, provided: ProvidedSecret, what: str) -> str:
    """The checked value of a provided secret read from a file (never shown in a message).

    Raises:
        UsageError: The file cannot be read, is too large, not text, or not a valid value.
    """
    raw = read_capped(path, MAX_SECRET_FILE_BYTES, f"{what} {path}")
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
