"""What ``scaffold init`` does once its options are parsed: gather the answers, then one
engine sync against an empty state, then a summary. The options are declared in
``commands.init``, which imports this module only when the command runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homelab_scaffold import ui
from homelab_scaffold.catalog.model import SECRET_SSH_PRIVATE_KEY, Catalog, ProvidedSecret
from homelab_scaffold.catalog.options import (
    has_credentials,
    masked,
    url_auth,
    without_credentials,
)
from homelab_scaffold.commands.report import announce_secrets, raise_on_conflicts, report_change
from homelab_scaffold.commands.secret_input import file_problem, read_capped, read_secret_file
from homelab_scaffold.engine import (
    Engine,
    Outcome,
    RunOptions,
    SecretRequest,
    generated_secret_names,
)
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.answers import (
    ANSWERS_FILE,
    KNOWN_HOSTS_KEY,
    MANUAL_SECRETS,
    PLACEHOLDER_REPO_URL,
    apply_sets,
    parse_answers,
    split_secret_sets,
    to_plain,
)
from homelab_scaffold.generate.known_hosts import (
    check_known_hosts,
    known_hosts_lines,
    ssh_endpoint,
)
from homelab_scaffold.generate.pipeline import load_catalog_for
from homelab_scaffold.generate.plan import SEALED_SECRETS_COMPONENT, Plan
from homelab_scaffold.generate.sealed import BOOTSTRAP_FILE, KEY_DIR
from homelab_scaffold.generate.secret_values import (
    SECRETS_DIR,
    VALUES_FILE,
    bootstrap_secret_folders,
    given_values,
    needed_provided,
)
from homelab_scaffold.generate.skeleton import GUIDE_FILE
from homelab_scaffold.repo.answers_file import GLOBAL_ORDER, AnswersDocument, read_config_file
from homelab_scaffold.repo.git import origin_url
from homelab_scaffold.repo.state import STATE_FILE

if TYPE_CHECKING:
    from homelab_scaffold.prompts import GivenAuth

_KEPT = "exists and differs; left as it is"
KNOWN_HOSTS_OPTION = "--repo-known-hosts-file"
MAX_KNOWN_HOSTS_BYTES = 1024 * 1024
CREDENTIALS_HELP = (
    "Argo CD reads private repositories with credentials from a Secret, not from the URL"
)


def check_destination(dest: Path, force: bool) -> None:
    """DEST must be a folder that is missing or empty (but for .git), unless --force."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination {dest} is a file; give a folder path (new or empty)")
    blocking = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(
            f"destination {dest} is inside {blocking}, which is a file; give a folder path"
        )
    if dest.is_dir() and not force:
        entries = sorted(p.name for p in dest.iterdir() if not _allowed_in_empty(p))
        if entries:
            raise UsageError(
                f"destination {dest} is not empty (has {entries[0]}); choose an empty folder, "
                "or pass --force to add the generated files (existing files are kept)"
            )


def _allowed_in_empty(path: Path) -> bool:
    """``.git``, and ``.scaffold`` holding nothing but this run's lock."""
    if path.name == ".git":
        return True
    return path.name == ".scaffold" and sorted(p.name for p in path.iterdir()) == ["lock"]


def gather_mapping(
    dest: Path,
    config: Path | None,
    no_input: bool,
    credentials: Credentials | None = None,
) -> dict[str, Any]:
    """The raw answers: from --config, the full default stack, or the prompts (which do not ask
    what the ``credentials`` given already say)."""
    if config is not None:
        mapping: dict[str, Any] = to_plain(read_config_file(config))
        return mapping
    catalog = load_catalog_for(parse_answers({}, "defaults"), dest)
    if no_input:
        return {"components": {n: {} for n, c in catalog.components.items() if c.in_default_stack}}
    from homelab_scaffold.prompts import ask_answers

    given = given_auth(catalog, credentials) if credentials else None
    return ask_answers(catalog, _origin(dest)[0], given)


@dataclass(frozen=True)
class Credentials:
    """Where repository credentials may already come from: the file options given, and the
    environment."""

    files: Mapping[str, Path]
    environ: Mapping[str, str]


def given_auth(catalog: Catalog, credentials: Credentials) -> GivenAuth | None:
    """The ``repo_auth`` a credential given before the questions settles: a file option, else
    an environment variable (None: none given, or two that disagree, which is asked)."""
    from homelab_scaffold.prompts import GivenAuth

    by_file: dict[str, str] = {}
    by_env: dict[str, str] = {}
    for provided in catalog.provided_secrets:
        auth = provided.config_conditions.get("repo_auth")
        if auth is None:
            continue
        if provided.file_option in credentials.files:
            by_file[auth] = provided.file_option
        elif credentials.environ.get(provided.env, "").strip():
            by_env[auth] = provided.env
    found = by_file or by_env
    if len(found) != 1:
        return None
    ((auth, source),) = found.items()
    return GivenAuth(repo_auth=auth, source=source)


def _origin(dest: Path) -> tuple[str | None, bool]:
    """git's origin URL without credentials, and whether it had some."""
    remote = origin_url(dest)
    if remote is None:
        return None, False
    return without_credentials(remote), has_credentials(remote)


def answers_document(config: Path | None, mapping: Mapping[str, Any]) -> AnswersDocument:
    """scaffold.yaml to start from: a --config file as written (comments too) completed with the
    settings from --set or git; else a fresh file for the gathered answers."""
    answers = parse_answers(mapping, str(config) if config else "answers")
    if config is None:
        return AnswersDocument.fresh(answers)
    document = AnswersDocument(read_config_file(config))
    for key in GLOBAL_ORDER:
        if key in mapping:
            document.set_global(key, mapping[key])
    for name, options in (mapping.get("components") or {}).items():
        document.complete_component(name, options or {})
    return document


def _asker(no_input: bool, progress: ui.Progress) -> Any:
    if no_input:
        return None
    from homelab_scaffold.prompts import ask_path, ask_secret, terminal_available

    if not terminal_available():
        return None

    def ask(provided: ProvidedSecret) -> str:
        with progress.paused():
            if provided.format == SECRET_SSH_PRIVATE_KEY:
                path = ask_path(
                    f"{provided.name}: path of {provided.description}",
                    lambda text: file_problem(Path(text).expanduser(), provided),
                )
                return read_secret_file(Path(path).expanduser(), provided, "the key file")
            return ask_secret(f"{provided.name}: {provided.description} (hidden input)")

    return ask


def _catalog_of(dest: Path, mapping: Mapping[str, Any]) -> Catalog:
    """The catalog the answers' ``catalog_paths`` make (before the answers are checked whole)."""
    paths = {k: v for k, v in mapping.items() if k == "catalog_paths"}
    return load_catalog_for(parse_answers(paths, "answers"), dest)


def file_secrets(
    dest: Path, mapping: dict[str, Any], files: Mapping[str, Path]
) -> dict[ProvidedSecret, Path]:
    """The provided secrets the init options ``files`` (option -> path) give, with the global
    answers their ``when`` needs set in ``mapping`` when it leaves them unset
    (``--repo-ssh-key-file`` means ``repo_auth: ssh``).

    Raises:
        UsageError: An option contradicts the answers.
    """
    if not files:
        return {}
    catalog = _catalog_of(dest, mapping)
    found: dict[ProvidedSecret, Path] = {}
    for option, path in sorted(files.items()):
        provided = next(p for p in catalog.provided_secrets if p.file_option == option)
        for key, value in provided.config_conditions.items():
            stated = mapping.setdefault(key, value)
            if stated != value:
                raise UsageError(
                    f"{option} is for {key}: {value}, but the answers say {key}: {stated}; "
                    "drop one of them (nothing was written)"
                )
        found[provided] = path
    return found


def env_conditions(dest: Path, mapping: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Set in ``mapping`` the global answers a provided secret given in the environment means,
    where the answers (and the file options) leave them unset, as the file options do
    (``SCAFFOLD_REPO_SSH_KEY`` means ``repo_auth: ssh``).

    Raises:
        UsageError: Two variables that mean different answers, or one whose answer the
            repository URL cannot carry.
    """
    catalog = _catalog_of(dest, mapping)
    meant: dict[str, tuple[Any, str]] = {}
    for provided in sorted(catalog.provided_secrets, key=lambda p: p.env):
        if not provided.config_conditions or not environ.get(provided.env, "").strip():
            continue
        for key, value in provided.config_conditions.items():
            if key in mapping:
                continue
            first = meant.setdefault(key, (value, provided.env))
            if first[0] != value:
                raise UsageError(
                    f"{provided.env} is for {key}: {value}, but {first[1]} is for {key}: "
                    f"{first[0]}; drop one of them, or state {key} (nothing was written)"
                )
    for key, (value, env) in meant.items():
        url = mapping.get("repo_url")
        if key == "repo_auth" and isinstance(url, str) and url and url_auth(url) != value:
            raise UsageError(
                f"{env} is for {key}: {value}, but repo_url {without_credentials(url)} is not "
                f"an {value} URL; unset {env}, or change repo_url (nothing was written)"
            )
        mapping[key] = value


def with_file_values(
    plan: Plan, overrides: dict[str, dict[str, str]], files: Mapping[ProvidedSecret, Path]
) -> dict[str, dict[str, str]]:
    """``overrides`` plus the values read from the secret files (each checked)."""
    needed = set(needed_provided(plan))
    for provided, path in files.items():
        if provided not in needed:
            raise UsageError(
                f"{provided.file_option}: {provided.name} is not needed with these answers "
                "(nothing was written)"
            )
        value = read_secret_file(path, provided, provided.file_option)
        overrides.setdefault(provided.component, {})[provided.key] = value
    return overrides


def progress_message(dest: Path, plan: Plan) -> str:
    """What init is busy with, naming the slow steps: a new sealing key, hashed secrets."""
    steps = [f"Rendering {len(plan.apps)} Applications"]
    if plan.sealed and not (dest / KEY_DIR).exists():
        steps.append("generating the RSA-4096 sealing key")
    if generated_secret_names(plan):
        steps.append("hashing the generated secrets")
    return ", ".join(steps)


def known_hosts_from_file(path: Path, mapping: Mapping[str, Any]) -> list[str]:
    """The checked entries of a known_hosts file for the SSH server of the answers' repo_url.

    Raises:
        UsageError: The file cannot be read, or holds no entry for that host, or a bad one.
    """
    option = f"{KNOWN_HOSTS_OPTION} {path}"
    raw = read_capped(path, MAX_KNOWN_HOSTS_BYTES, option, "give the known_hosts file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{option}: not a text file (expected known_hosts lines)") from None
    url = str(mapping.get("repo_url") or PLACEHOLDER_REPO_URL)
    endpoint = ssh_endpoint(url)
    if endpoint is None:
        raise UsageError(
            f"{option}: host keys are for an SSH repo_url (git@host:path or ssh://host/path), "
            f"but repo_url is {masked(url)}"
        )
    try:
        return list(check_known_hosts(known_hosts_lines(text), endpoint))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _prepared_mapping(
    dest: Path,
    config: Path | None,
    no_input: bool,
    sets: tuple[str, ...],
    credentials: Credentials,
) -> tuple[dict[str, Any], list[str]]:
    mapping = apply_sets(gather_mapping(dest, config, no_input, credentials), sets)
    warnings: list[str] = []
    if no_input and config is None and mapping.get("secrets") == MANUAL_SECRETS:
        # The default stack's sealed-secrets controller has nothing to do without sealing.
        components = mapping.get("components") or {}
        if not components.get(SEALED_SECRETS_COMPONENT):
            components.pop(SEALED_SECRETS_COMPONENT, None)
    if mapping.get("repo_url") in (None, ""):
        mapping.pop("repo_url", None)
        remote, had_credentials = _origin(dest)
        if remote:
            mapping["repo_url"] = remote
        if had_credentials:
            warnings.append(
                f"git's origin URL holds credentials; scaffold.yaml gets it without them "
                f"({remote}). {CREDENTIALS_HELP}"
            )
    return mapping, warnings


def init_repo(
    dest: Path,
    *,
    config: Path | None,
    no_input: bool,
    sets: tuple[str, ...],
    force: bool,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
    secret_files: Mapping[str, Path] | None = None,
    known_hosts_file: Path | None = None,
) -> tuple[Outcome, list[str]]:
    """Render a new repository into ``dest`` through the engine; nothing is written unless
    everything rendered. Returns the outcome and warnings for the user.

    The engine is entered first: an init that was killed half-way is rolled back before the
    destination is checked, so running the same init again just works."""
    progress = ui.progress("Rendering")
    options = RunOptions(
        dry_run=dry_run,
        force=force,
        existing="keep",
        ask_secret=_asker(no_input, progress),
        missing_secret_hint="{hint}",
        **({"environ": environ} if environ is not None else {}),
    )
    with Engine(dest, options) as engine:
        check_destination(dest, force)
        sets, secret_sets = split_secret_sets(sets)
        credentials = Credentials(files=secret_files or {}, environ=options.environ)
        mapping, warnings = _prepared_mapping(dest, config, no_input, sets, credentials)
        if known_hosts_file is not None:
            mapping[KNOWN_HOSTS_KEY] = known_hosts_from_file(known_hosts_file, mapping)
        from_files = file_secrets(dest, mapping, secret_files or {})
        env_conditions(dest, mapping, options.environ)
        source = str(config) if config else "answers"
        document = answers_document(config, mapping)
        plan = engine.catalog_plan(document.answers(source), source)
        overrides = with_file_values(plan, given_values(plan, secret_sets), from_files)
        request = SecretRequest(overrides=overrides)
        progress.message = progress_message(dest, plan)
        with progress:
            outcome = engine.sync(
                engine.new_repo(), document, secrets=request, source=source, complete_answers=True
            )
    return outcome, warnings


def report_init(
    dest: Path, outcome: Outcome, warnings: list[str], *, dry_run: bool, verbose: bool
) -> None:
    """Tell the user what happened (the one place init prints): files that need a look (all
    of them with --verbose), then a summary of the repository and what to do next."""
    plan = outcome.plan
    for line in outcome.notes:
        ui.note(line)
    for change in outcome.changes:
        if change.writes and dry_run and verbose:
            ui.action("would " + change.action, change.path)
        elif verbose or change.action not in _ROUTINE:
            report_change(change, False, _KEPT)
    ui.warn_all([*outcome.warnings, *warnings])
    if plan.answers.repo_url_is_placeholder:
        ui.warn(
            f"repo_url is a placeholder ({plan.answers.repo_url}); set it in "
            f"{dest / ANSWERS_FILE} to the Git URL Argo CD will pull, "
            "then run `scaffold regenerate`"
        )
    for line in summary_lines(dest, outcome, dry_run=dry_run):
        ui.info(line)
    announce_secrets(outcome)
    if outcome.written:
        ui.info(next_step(dest, plan, outcome.guide))
    raise_on_conflicts(outcome, dry_run)


# Changes init makes to every file of a new repository: summarised unless --verbose.
_ROUTINE = frozenset({"create", "unchanged"})
_WAVE_NAMES = 8


def summary_lines(dest: Path, outcome: Outcome, *, dry_run: bool) -> list[str]:
    """The repository in a few lines: files, components (and why some were added), the sync
    waves, where the secrets and the sealing key are."""
    plan = outcome.plan
    count = sum(1 for c in outcome.writes if c.path != STATE_FILE)
    done = f"Would write {count} files to {dest} (dry run: nothing written; -v lists them)."
    if not dry_run:
        done = f"Wrote {count} files to {dest} (-v lists them)."
    lines = [done, f"Components ({len(plan.components)}): {', '.join(plan.components)}"]
    added = [f"{name} (for {', '.join(by)})" for name, by in plan.added.items()]
    if added:
        lines.append(f"  added because others need them: {', '.join(added)}")
    lines.append("Sync waves:")
    lines.extend(wave_lines(plan))
    lines.extend(secrets_lines(dest, outcome))
    lines.extend(guide_lines(outcome))
    return lines


def guide_lines(outcome: Outcome) -> list[str]:
    """Where the guide went when the folder already had a README of the user's own."""
    if outcome.guide == GUIDE_FILE:
        return []
    linked = any(c.path == GUIDE_FILE and c.writes for c in outcome.changes)
    link = (
        f"one line at its end now links it (scaffold never touches {GUIDE_FILE} again)"
        if linked
        else f"your {GUIDE_FILE} links it already"
    )
    return [
        f"{GUIDE_FILE} is your own and stays as it is; the bootstrap guide (DNS, certificates, "
        f"UIs, backups) is in {outcome.guide}, which scaffold keeps up to date: {link}"
    ]


def wave_lines(plan: Plan) -> list[str]:
    """One short line per sync wave: ``  1  cert-manager, longhorn, ... and 3 more``."""
    waves: dict[int, list[str]] = {}
    for app in plan.apps:
        waves.setdefault(app.wave, []).append(app.name)
    width = max((len(str(w)) for w in waves), default=1)
    lines = []
    for wave, names in sorted(waves.items()):
        shown = ", ".join(names[:_WAVE_NAMES])
        more = f" and {len(names) - _WAVE_NAMES} more" if len(names) > _WAVE_NAMES else ""
        lines.append(f"  {wave:>{width}}  {shown}{more}")
    return lines


def secrets_lines(dest: Path, outcome: Outcome) -> list[str]:
    """Where the secret values, the Secrets and the sealing key are (never a value)."""
    lines = _secret_store_lines(dest, outcome)
    folders = bootstrap_secret_folders(outcome.plan)
    if folders:
        sealed = "; sealed into Git too" if outcome.plan.sealed else ""
        lines.append(
            f"Repository credentials: {', '.join(folders)} (gitignored{sealed}); "
            "`scaffold bootstrap` applies them before the root Application"
        )
    return lines


def _secret_store_lines(dest: Path, outcome: Outcome) -> list[str]:
    plan = outcome.plan
    if not generated_secret_names(plan) and not plan.sealed:
        return []
    if not plan.sealed:
        return [
            f"Secrets: values in {VALUES_FILE}, Secret manifests in {SECRETS_DIR}/<component>/ "
            "(gitignored; the bootstrap applies them): back up secrets/"
        ]
    lines = [
        f"Secrets: sealed into Git as SealedSecrets; values in {VALUES_FILE} and the sealing "
        f"key in {KEY_DIR}/ (gitignored): back up secrets/"
    ]
    if outcome.written and outcome.rendered.new_key_pair is not None:
        lines.append(
            f"  The sealing key in {dest / KEY_DIR} is the only key that decrypts the "
            f"SealedSecrets in Git: back it up now. Bootstrap applies it from {BOOTSTRAP_FILE}."
        )
    return lines


def next_step(dest: Path, plan: Plan, guide: str = GUIDE_FILE) -> str:
    """What to do now: push, then bootstrap (or the guide's manual steps)."""
    where = "" if dest == Path() else f" -C {dest}"
    placeholder = plan.answers.repo_url_is_placeholder
    first = "set repo_url, run `scaffold regenerate`, " if placeholder else ""
    return (
        f"Next: {first}commit and push the repository, then `scaffold bootstrap{where}` "
        f"(the steps by hand: {dest / guide})."
    )


def run_init(
    dest: Path,
    no_input: bool,
    config: Path | None,
    sets: tuple[str, ...],
    force: bool,
    dry_run: bool,
    verbose: bool,
    repo_ssh_key_file: Path | None = None,
    repo_token_file: Path | None = None,
    repo_known_hosts_file: Path | None = None,
) -> None:
    """``scaffold init`` once its options are parsed (see ``commands.init``)."""
    files = {"--repo-ssh-key-file": repo_ssh_key_file, "--repo-token-file": repo_token_file}
    outcome, warnings = init_repo(
        dest,
        config=config,
        no_input=no_input,
        sets=sets,
        force=force,
        dry_run=dry_run,
        secret_files={option: path for option, path in files.items() if path is not None},
        known_hosts_file=repo_known_hosts_file,
    )
    report_init(dest, outcome, warnings, dry_run=dry_run, verbose=verbose)
