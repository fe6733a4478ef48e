"""Three-way merge of a user's edits with a fresh render, line by line, in diff3 style.

``base`` is what scaffold generated last time, ``ours`` the file as the user left it and
``theirs`` the new render. The semantics follow ``git merge-file --diff3``: each side is diffed
against the base (a minimal Myers diff whose change groups are slid into git's canonical
position), changes that neither overlap nor touch are applied silently, identical changes are
taken once, and everything else becomes a conflict hunk that keeps the base lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

OURS_LABEL = "yours"
BASE_LABEL = "scaffold (previous)"
THEIRS_LABEL = "scaffold (new)"

_MARKER_SIZE = 7


@dataclass(frozen=True)
class MergeResult:
    """Outcome of a three-way merge.

    Attributes:
        text: The merged text, with conflict markers where both sides changed the same lines.
        conflicts: How many conflict hunks ``text`` contains.
    """

    text: str
    conflicts: int

    @property
    def clean(self) -> bool:
        """True when the merge needed no conflict markers."""
        return self.conflicts == 0


@dataclass(frozen=True)
class _Hunk:
    """``base[base_start:base_end]`` became ``side[side_start:side_end]``."""

    base_start: int
    base_end: int
    side_start: int
    side_end: int


@dataclass(frozen=True)
class _Cluster:
    """Hunks of both sides that overlap or touch, spanning ``base[start:end]``."""

    start: int
    end: int
    ours: tuple[_Hunk, ...]
    theirs: tuple[_Hunk, ...]


@dataclass(frozen=True)
class _Texts:
    """The three inputs split into lines (each keeps its line ending)."""

    base: list[str]
    ours: list[str]
    theirs: list[str]


@dataclass(frozen=True)
class _Labels:
    """Names written after the conflict markers."""

    ours: str
    base: str
    theirs: str

    def __post_init__(self) -> None:
        for label in (self.ours, self.base, self.theirs):
            if "\n" in label or "\r" in label:
                raise ValueError(f"conflict label {label!r} must be a single line")


def merge_texts(
    base: str,
    ours: str,
    theirs: str,
    *,
    ours_label: str = OURS_LABEL,
    base_label: str = BASE_LABEL,
    theirs_label: str = THEIRS_LABEL,
) -> MergeResult:
    """Merge the user's edits (``ours``) and a new render (``theirs``) of the same ``base``.

    Args:
        base: What scaffold generated last time.
        ours: The file as it is now, possibly edited by the user.
        theirs: What scaffold renders now.
        ours_label: Name shown after the ``<<<<<<<`` marker.
        base_label: Name shown after the ``|||||||`` marker.
        theirs_label: Name shown after the ``>>>>>>>`` marker.

    Returns:
        The merged text and the number of conflict hunks in it.

    Raises:
        ValueError: A label contains a line break (it would corrupt the markers).
    """
    labels = _Labels(ours_label, base_label, theirs_label)
    if ours in (base, theirs):
        return MergeResult(theirs, 0)
    if theirs == base:
        return MergeResult(ours, 0)
    texts = _Texts(_split_lines(base), _split_lines(ours), _split_lines(theirs))
    base_ids, our_ids, their_ids = _intern(texts.base, texts.ours, texts.theirs)
    clusters = _cluster(_diff(base_ids, our_ids), _diff(base_ids, their_ids))
    return _assemble(texts, clusters, labels)


def _split_lines(text: str) -> list[str]:
    r"""Split ``text`` after every ``\n`` only; a last line without one stays as it is.

    ``str.splitlines`` is not used because it also breaks on form feeds, ``\x1c`` and other
    characters that git (and YAML) treat as ordinary content.
    """
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _intern(*sequences: list[str]) -> list[list[int]]:
    """Replace each distinct line by a small integer so comparisons are cheap."""
    ids: dict[str, int] = {}
    return [[ids.setdefault(line, len(ids)) for line in lines] for lines in sequences]


# --- two-way diff ---------------------------------------------------------------------------


def _diff(a: Sequence[int], b: Sequence[int]) -> list[_Hunk]:
    """Return the hunks that turn ``a`` into ``b`` (a minimal diff, git-style placement)."""
    changed_a = [False] * len(a)
    changed_b = [False] * len(b)
    _mark_changes(a, b, changed_a, changed_b)
    _compact(a, changed_a, changed_b)
    _compact(b, changed_b, changed_a)
    return _hunks(changed_a, changed_b)


class _Box(NamedTuple):
    """The part ``a[lo1:hi1]`` against ``b[lo2:hi2]`` still to be compared."""

    lo1: int
    hi1: int
    lo2: int
    hi2: int


def _mark_changes(
    a: Sequence[int], b: Sequence[int], changed_a: list[bool], changed_b: list[bool]
) -> None:
    """Flag the lines of ``a`` and ``b`` that a minimal edit script deletes or inserts."""
    middle = _shrink(a, b, _Box(0, len(a), 0, len(b)))
    # Lines that occur nowhere in the other file can never match; leaving them out of the
    # O(ND) search keeps a heavily rewritten file cheap.
    kept_a = _matchable(a, middle.lo1, middle.hi1, set(b), changed_a)
    kept_b = _matchable(b, middle.lo2, middle.hi2, set(a), changed_b)
    sub_changed_a = [False] * len(kept_a)
    sub_changed_b = [False] * len(kept_b)
    _myers([a[i] for i in kept_a], [b[i] for i in kept_b], sub_changed_a, sub_changed_b)
    for flag, index in zip(sub_changed_a, kept_a, strict=True):
        changed_a[index] = flag
    for flag, index in zip(sub_changed_b, kept_b, strict=True):
        changed_b[index] = flag


def _matchable(
    lines: Sequence[int], start: int, end: int, other: set[int], changed: list[bool]
) -> list[int]:
    """Return indices in ``lines[start:end]`` that occur in ``other``; flag the rest changed."""
    kept = []
    for index in range(start, end):
        if lines[index] in other:
            kept.append(index)
        else:
            changed[index] = True
    return kept


def _myers(
    a: Sequence[int], b: Sequence[int], changed_a: list[bool], changed_b: list[bool]
) -> None:
    """Myers' linear-space divide and conquer: split each box at a point of a minimal path."""
    boxes = [_Box(0, len(a), 0, len(b))]
    while boxes:
        box = _shrink(a, b, boxes.pop())
        if box.lo1 == box.hi1:
            changed_b[box.lo2 : box.hi2] = [True] * (box.hi2 - box.lo2)
        elif box.lo2 == box.hi2:
            changed_a[box.lo1 : box.hi1] = [True] * (box.hi1 - box.lo1)
        else:
            x, y = _split_point(a, b, box)
            boxes.append(_Box(x, box.hi1, y, box.hi2))
            boxes.append(_Box(box.lo1, x, box.lo2, y))


def _shrink(a: Sequence[int], b: Sequence[int], box: _Box) -> _Box:
    """Drop the lines a box shares at its start and at its end."""
    lo1, hi1, lo2, hi2 = box
    while lo1 < hi1 and lo2 < hi2 and a[lo1] == b[lo2]:
        lo1 += 1
        lo2 += 1
    while lo1 < hi1 and lo2 < hi2 and a[hi1 - 1] == b[hi2 - 1]:
        hi1 -= 1
        hi2 -= 1
    return _Box(lo1, hi1, lo2, hi2)


class _Front:
    """How far the search from one corner of a box got on each diagonal ``k = x - y``.

    The front only ever holds diagonals of one parity; growing it past a box edge shrinks it
    instead. The sentinel put just outside it loses every comparison with a real value.
    """

    def __init__(self, box: _Box, mid: int, start: int, sentinel: int) -> None:
        self.k_min, self.k_max = box.lo1 - box.hi2, box.hi1 - box.lo2
        self.shift = 1 - self.k_min
        self.reach = [sentinel] * (self.k_max - self.k_min + 3)
        self.reach[mid + self.shift] = start
        self.low = self.high = mid
        self.sentinel = sentinel

    def covers(self, k: int) -> bool:
        return self.low <= k <= self.high

    def at(self, k: int) -> int:
        return self.reach[k + self.shift]

    def widen(self) -> None:
        if self.low > self.k_min:
            self.low -= 1
            self.reach[self.low - 1 + self.shift] = self.sentinel
        else:
            self.low += 1
        if self.high < self.k_max:
            self.high += 1
            self.reach[self.high + 1 + self.shift] = self.sentinel
        else:
            self.high -= 1


def _split_point(a: Sequence[int], b: Sequence[int], box: _Box) -> tuple[int, int]:
    """Find a point on a minimal edit path by searching from both corners until they meet.

    The box must not start or end with a common line, so the point lies strictly inside it.
    The searches alternate one edit at a time; which one can detect the meeting depends on the
    parity of the difference between the two corner diagonals.
    """
    forward = _Front(box, box.lo1 - box.lo2, box.lo1, -1)
    backward = _Front(box, box.hi1 - box.hi2, box.hi1, box.hi1 + 1)
    odd = bool((forward.low - backward.low) & 1)
    while True:
        point = _search_forward(a, b, box, forward, backward if odd else None)
        if point is None:
            point = _search_backward(a, b, box, backward, None if odd else forward)
        if point is not None:
            return point


def _search_forward(
    a: Sequence[int], b: Sequence[int], box: _Box, front: _Front, other: _Front | None
) -> tuple[int, int] | None:
    """Extend every forward path by one edit and its following snake; report a meeting."""
    return _search(a, b, box, front, other, forward=True)


def _search_backward(
    a: Sequence[int], b: Sequence[int], box: _Box, front: _Front, other: _Front | None
) -> tuple[int, int] | None:
    """Mirror of :func:`_search_forward`, walking from the bottom-right corner."""
    return _search(a, b, box, front, other, forward=False)


def _search(
    a: Sequence[int],
    b: Sequence[int],
    box: _Box,
    front: _Front,
    other: _Front | None,
    *,
    forward: bool,
) -> tuple[int, int] | None:
    front.widen()
    reach, shift = front.reach, front.shift
    for k in range(front.high, front.low - 1, -2):
        left, right = reach[k - 1 + shift], reach[k + 1 + shift]
        if forward:
            x = left + 1 if left >= right else right
        else:
            x = left if left < right else right - 1
        x = _snake(a, b, box, x, x - k, forward)
        reach[k + shift] = x
        if (
            other is not None
            and other.covers(k)
            and (other.at(k) <= x if forward else x <= other.at(k))
        ):
            return x, x - k
    return None


def _snake(a: Sequence[int], b: Sequence[int], box: _Box, x: int, y: int, forward: bool) -> int:
    """Follow equal lines from ``(x, y)`` (down-right, or up-left); the ``x`` it ends at."""
    if forward:
        while x < box.hi1 and y < box.hi2 and a[x] == b[y]:
            x, y = x + 1, y + 1
    else:
        while x > box.lo1 and y > box.lo2 and a[x - 1] == b[y - 1]:
            x, y = x - 1, y - 1
    return x


# --- sliding change groups into git's canonical position -----------------------------------


class _Run:
    """A run of changed lines ``[start, end)`` with ``index`` unchanged lines before it.

    Between two unchanged lines there is one (often empty) run, so run ``index`` of one file
    faces run ``index`` of the other file of the diff.
    """

    def __init__(self, lines: Sequence[int], changed: list[bool], start: int, index: int) -> None:
        self.lines = lines
        self.changed = changed
        self.start = start
        self.end = _run_end(changed, start)
        self.index = index

    def slide_down(self) -> bool:
        """Shift the run one line down if its first line equals the line after it."""
        if self.end >= len(self.lines) or self.lines[self.start] != self.lines[self.end]:
            return False
        self.changed[self.start] = False
        self.changed[self.end] = True
        self.start += 1
        self.end = _run_end(self.changed, self.end)
        self.index += 1
        return True

    def slide_up(self) -> bool:
        """Shift the run one line up if its last line equals the line before it."""
        if self.start == 0 or self.lines[self.start - 1] != self.lines[self.end - 1]:
            return False
        self.changed[self.start - 1] = True
        self.changed[self.end - 1] = False
        self.end -= 1
        self.start = _run_start(self.changed, self.start - 1)
        self.index -= 1
        return True


def _compact(lines: Sequence[int], changed: list[bool], other_changed: list[bool]) -> None:
    """Slide every run of changes of one file into git's position, merging runs that meet."""
    facing = _nonempty_runs(other_changed)
    position = index = 0
    while (start := _next_changed(changed, position)) is not None:
        run = _Run(lines, changed, start, index + start - position)
        _settle(run, facing)
        position, index = run.end, run.index


def _nonempty_runs(changed: list[bool]) -> list[bool]:
    """For each run between unchanged lines (first to last), whether it holds any line."""
    runs = []
    in_run = False
    for flag in changed:
        if flag:
            in_run = True
        else:
            runs.append(in_run)
            in_run = False
    runs.append(in_run)
    return runs


def _next_changed(changed: list[bool], position: int) -> int | None:
    try:
        return changed.index(True, position)
    except ValueError:
        return None


def _settle(run: _Run, facing: list[bool]) -> None:
    """Slide ``run`` as far down as it goes, unless it can face a change of the other file.

    Facing the other file's change turns a delete plus an insert into one replacement, which
    is the hunk a reader expects (and the one git produces).
    """
    while True:
        size = run.end - run.start
        while run.slide_up():
            pass
        highest_end = run.end
        aligned_end = run.end if facing[run.index] else -1
        while run.slide_down():
            if facing[run.index]:
                aligned_end = run.end
        if size == run.end - run.start:
            break
    if run.end != highest_end and aligned_end != -1:
        while not facing[run.index]:
            run.slide_up()


def _hunks(changed_a: list[bool], changed_b: list[bool]) -> list[_Hunk]:
    """Pair up the runs of changed lines of both files into hunks."""
    hunks: list[_Hunk] = []
    i = j = 0
    while True:
        # Unchanged lines pair up one to one, so both files skip the same number of them.
        skip = min(_unchanged_ahead(changed_a, i), _unchanged_ahead(changed_b, j))
        i += skip
        j += skip
        if i == len(changed_a) and j == len(changed_b):
            return hunks
        end_a, end_b = _run_end(changed_a, i), _run_end(changed_b, j)
        hunks.append(_Hunk(i, end_a, j, end_b))
        i, j = end_a, end_b


def _unchanged_ahead(changed: list[bool], position: int) -> int:
    following = _next_changed(changed, position)
    return (len(changed) if following is None else following) - position


def _run_end(changed: list[bool], index: int) -> int:
    while index < len(changed) and changed[index]:
        index += 1
    return index


def _run_start(changed: list[bool], index: int) -> int:
    while index > 0 and changed[index - 1]:
        index -= 1
    return index


# --- three-way merge ------------------------------------------------------------------------


def _cluster(ours: list[_Hunk], theirs: list[_Hunk]) -> list[_Cluster]:
    """Group hunks of both sides whose base ranges overlap or touch, in base order.

    Touching counts (a change ending where the other side's starts, or an insertion next to a
    change): like git and diff3, scaffold cannot know which order the user would want.
    """
    tagged = sorted(
        [(hunk.base_start, 0, hunk) for hunk in ours]
        + [(hunk.base_start, 1, hunk) for hunk in theirs],
        key=lambda item: (item[0], item[1]),
    )
    clusters: list[_Cluster] = []
    for _, side, hunk in tagged:
        if clusters and hunk.base_start <= clusters[-1].end:
            clusters[-1] = _extend(clusters[-1], side, hunk)
        else:
            clusters.append(_extend(_Cluster(hunk.base_start, hunk.base_end, (), ()), side, hunk))
    return clusters


def _extend(cluster: _Cluster, side: int, hunk: _Hunk) -> _Cluster:
    """Add one hunk of side 0 (ours) or 1 (theirs) to a cluster."""
    end = max(cluster.end, hunk.base_end)
    if side == 0:
        return _Cluster(cluster.start, end, (*cluster.ours, hunk), cluster.theirs)
    return _Cluster(cluster.start, end, cluster.ours, (*cluster.theirs, hunk))


def _side_start(cluster: _Cluster, hunks: tuple[_Hunk, ...]) -> int:
    """Where ``base[cluster.start]`` sits in one side (outside hunks both advance together)."""
    first = hunks[0]
    return first.side_start - (first.base_start - cluster.start)


def _side_lines(cluster: _Cluster, hunks: tuple[_Hunk, ...], lines: list[str]) -> list[str]:
    """Return what one side made of ``base[cluster.start:cluster.end]``."""
    last = hunks[-1]
    return lines[_side_start(cluster, hunks) : last.side_end + (cluster.end - last.base_end)]


def _resolve(cluster: _Cluster, texts: _Texts) -> list[str] | None:
    """Return the merged lines of a cluster, or None when the two sides conflict."""
    if not cluster.theirs:
        return _side_lines(cluster, cluster.ours, texts.ours)
    if not cluster.ours:
        return _side_lines(cluster, cluster.theirs, texts.theirs)
    mine = _side_lines(cluster, cluster.ours, texts.ours)
    new = _side_lines(cluster, cluster.theirs, texts.theirs)
    # Only one hunk per side spanning the same base lines counts as "the same change", as in
    # git; a larger cluster that happens to end up equal is still shown to the user.
    same_span = len(cluster.ours) == len(cluster.theirs) == 1 and _spans_equal(cluster)
    return mine if same_span and mine == new else None


def _spans_equal(cluster: _Cluster) -> bool:
    mine, new = cluster.ours[0], cluster.theirs[0]
    return (mine.base_start, mine.base_end) == (new.base_start, new.base_end)


def _assemble(texts: _Texts, clusters: list[_Cluster], labels: _Labels) -> MergeResult:
    """Copy unchanged base lines and resolved clusters; mark the conflicting ones."""
    out: list[str] = []
    conflicts = 0
    position = 0
    for cluster in clusters:
        out.extend(texts.base[position : cluster.start])
        merged = _resolve(cluster, texts)
        if merged is None:
            conflicts += 1
            out.extend(_conflict_block(cluster, texts, labels))
        else:
            out.extend(merged)
        position = cluster.end
    out.extend(texts.base[position:])
    return MergeResult("".join(out), conflicts)


def _conflict_block(cluster: _Cluster, texts: _Texts, labels: _Labels) -> list[str]:
    """Return a diff3-style conflict hunk: yours, the previous render, the new render."""
    mine = _side_lines(cluster, cluster.ours, texts.ours)
    new = _side_lines(cluster, cluster.theirs, texts.theirs)
    eol = _conflict_eol(cluster, texts)
    return [
        _marker("<", labels.ours, eol),
        *_terminated(mine, eol),
        _marker("|", labels.base, eol),
        *_terminated(texts.base[cluster.start : cluster.end], eol),
        _marker("=", "", eol),
        *_terminated(new, eol),
        _marker(">", labels.theirs, eol),
    ]


def _conflict_eol(cluster: _Cluster, texts: _Texts) -> str:
    """Pick the markers' line ending the way git does, so CRLF files stay CRLF.

    The line before the hunk on each side must not be LF-only, and the base's first line must
    end in CRLF; anything undecidable (empty or one-line files without an ending) means LF.
    """
    ours_start = _side_start(cluster, cluster.ours)
    theirs_start = _side_start(cluster, cluster.theirs)
    sides = (_ending(texts.ours, ours_start - 1), _ending(texts.theirs, theirs_start - 1))
    if "\n" not in sides and _ending(texts.base, 0) == "\r\n":
        return "\r\n"
    return "\n"


def _ending(lines: list[str], index: int) -> str | None:
    """Line ending at ``index`` (0 when negative), or of the line before a last unended one."""
    if not lines:
        return None
    index = max(index, 0)
    if not lines[index].endswith("\n"):
        if index == 0:
            return None
        index -= 1
    return "\r\n" if lines[index].endswith("\r\n") else "\n"


def _terminated(lines: list[str], eol: str) -> list[str]:
    """End a last line that has no line ending, so the next marker starts its own line."""
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + eol]
    return lines


def _marker(char: str, label: str, eol: str) -> str:
    head = char * _MARKER_SIZE
    return f"{head} {label}{eol}" if label else f"{head}{eol}"


_MARKER_LINE = re.compile(r"^(<{7} |>{7} |\|{7} |={7}\r?$)", re.MULTILINE)


def conflict_marker_lines(text: str) -> list[int]:
    """1-based numbers of the lines that are conflict markers of an unresolved merge."""
    if "<<<<<<< " not in text:
        return []
    return [text.count("\n", 0, match.start()) + 1 for match in _MARKER_LINE.finditer(text)]
