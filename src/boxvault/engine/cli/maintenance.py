"""``check``, ``forget``, ``prune`` and ``rewrite``: restic's maintenance commands and options."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from . import app
from .common import CliError, JsonOpt, PasswordFileOpt, RepoOpt, handle_errors, open_repo, show_progress

Progress = Callable[[str, int, int], None]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-n", help="do not change anything, print what would be done")
]
HostOpt = Annotated[list[str] | None, typer.Option("--host", help="only snapshots of this host (repeatable)")]
TagOpt = Annotated[
    list[str] | None, typer.Option("--tag", help="only snapshots with this tag list a,b (repeatable)")
]
PathOpt = Annotated[
    list[str] | None, typer.Option("--path", help="only snapshots with this path (repeatable)")
]
MaxUnusedOpt = Annotated[
    str, typer.Option("--max-unused", help="tolerated unused space: a percentage, a size or 'unlimited'")
]


@contextmanager
def _phases() -> Iterator[Progress]:
    """A rich progress bar per phase on a terminal; silent otherwise (scripts read --json)."""
    if not show_progress():
        yield lambda _phase, _done, _total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .common import err_console

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def _tag_lists(specs: list[str] | None) -> list[tuple[str, ...]]:
    from ..forget import parse_tag_list

    return [parse_tag_list(s) for s in specs or []]


def _echo_json(doc: object) -> None:
    typer.echo(json.dumps(doc, separators=(",", ":")))


# --- check --------------------------------------------------------------------------------------------------


@app.command("check")
@handle_errors
def check_cmd(
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    read_data: Annotated[
        bool, typer.Option("--read-data", help="read every pack and verify every blob")
    ] = False,
    read_data_subset: Annotated[
        str | None, typer.Option("--read-data-subset", help="read a subset of packs: n/t, x% or a size")
    ] = None,
    no_lock: Annotated[bool, typer.Option("--no-lock", help="do not lock the repository")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Verify every index, pack, tree and blob; name every damaged blob and the files it affects."""
    from ..check import CheckOptionError, check, select_subset

    if read_data_subset:
        try:
            select_subset({}, read_data_subset)
        except CheckOptionError as e:
            raise CliError(str(e)) from e
    r = open_repo(repo, password_file)
    with _phases() as progress:
        if no_lock:
            report = check(r, read_data=read_data, read_data_subset=read_data_subset, progress=progress)
        else:
            with r.lock(exclusive=True):
                report = check(r, read_data=read_data, read_data_subset=read_data_subset, progress=progress)
    if json_out:
        _echo_json(report.to_json())
    else:
        for hint in report.hints:
            typer.echo(hint)
        for error in report.errors:
            typer.echo(f"error: {error}", err=True)
        if report.damaged:
            typer.echo(f"{len(report.damaged)} damaged or missing blob(s):", err=True)
            for (kind, blob_id), reason in sorted(report.damaged.items()):
                typer.echo(f"  {kind} {blob_id.hex()}: {reason}", err=True)
        for snapshot_id, paths in report.damaged_paths().items():
            typer.echo(f"snapshot {snapshot_id[:8]}: {len(paths)} damaged path(s):", err=True)
            for p in paths:
                typer.echo(f"  {p}", err=True)
        summary = (
            f"checked {report.snapshots} snapshots, {report.index_files} index files, {report.packs} packs, "
            f"{report.trees} trees"
        )
        if report.packs_read:
            summary += f"; read {report.packs_read} packs ({report.bytes_read / 2**20:.1f} MiB)"
        typer.echo(summary)
        typer.echo("no errors were found" if report.ok else "repository contains errors")
    if not report.ok:
        raise typer.Exit(1)


# --- forget -------------------------------------------------------------------------------------------------


@app.command("forget")
@handle_errors
def forget_cmd(
    snapshot_ids: Annotated[list[str] | None, typer.Argument(help="forget exactly these snapshots")] = None,
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    keep_last: Annotated[int, typer.Option("--keep-last", "-l", help="keep the last n snapshots")] = 0,
    keep_hourly: Annotated[int, typer.Option("--keep-hourly", "-H", help="keep n hourly snapshots")] = 0,
    keep_daily: Annotated[int, typer.Option("--keep-daily", "-d", help="keep n daily snapshots")] = 0,
    keep_weekly: Annotated[int, typer.Option("--keep-weekly", "-w", help="keep n weekly snapshots")] = 0,
    keep_monthly: Annotated[int, typer.Option("--keep-monthly", "-m", help="keep n monthly snapshots")] = 0,
    keep_yearly: Annotated[int, typer.Option("--keep-yearly", "-y", help="keep n yearly snapshots")] = 0,
    keep_within: Annotated[
        str, typer.Option("--keep-within", help="keep snapshots newer than 1y2m3d4h")
    ] = "",
    keep_within_hourly: Annotated[str, typer.Option("--keep-within-hourly", help="hourly within")] = "",
    keep_within_daily: Annotated[str, typer.Option("--keep-within-daily", help="daily within")] = "",
    keep_within_weekly: Annotated[str, typer.Option("--keep-within-weekly", help="weekly within")] = "",
    keep_within_monthly: Annotated[str, typer.Option("--keep-within-monthly", help="monthly within")] = "",
    keep_within_yearly: Annotated[str, typer.Option("--keep-within-yearly", help="yearly within")] = "",
    keep_tag: Annotated[
        list[str] | None, typer.Option("--keep-tag", help="keep snapshots with this tag list (repeatable)")
    ] = None,
    keep_oldest: Annotated[
        bool,
        typer.Option(
            "--keep-oldest/--no-keep-oldest",
            help="keep a group's oldest snapshot while a bucket has counts left (restic >= 0.15)",
        ),
    ] = True,
    host: HostOpt = None,
    tag: TagOpt = None,
    path: PathOpt = None,
    group_by: Annotated[
        str, typer.Option("--group-by", "-g", help="group by host, paths and/or tags ('' for none)")
    ] = "host,paths",
    dry_run: DryRunOpt = False,
    prune: Annotated[bool, typer.Option("--prune", help="run prune when snapshots were removed")] = False,
    max_unused: MaxUnusedOpt = "5%",
    json_out: JsonOpt = False,
) -> None:
    """Remove snapshots according to restic's keep rules, group by group."""
    from ..forget import Duration, ExpirePolicy, PolicyError, parse_group_by
    from ..forget_run import forget
    from ..prune_plan import PruneOptionError, parse_max_unused

    try:
        parse_max_unused(max_unused)
        policy = ExpirePolicy(
            keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly,
            within=Duration.parse(keep_within),
            within_hourly=Duration.parse(keep_within_hourly),
            within_daily=Duration.parse(keep_within_daily),
            within_weekly=Duration.parse(keep_within_weekly),
            within_monthly=Duration.parse(keep_within_monthly),
            within_yearly=Duration.parse(keep_within_yearly),
            tags=tuple(_tag_lists(keep_tag)), keep_oldest=keep_oldest,
        )  # fmt: skip
        parse_group_by(group_by)
    except (PolicyError, PruneOptionError) as e:
        raise CliError(str(e)) from e
    r = open_repo(repo, password_file)
    with r.lock(exclusive=True):
        result = forget(
            r, policy, group_by=group_by, hosts=host, tag_lists=_tag_lists(tag), paths=path,
            snapshot_ids=snapshot_ids, dry_run=dry_run, lock=False,
        )  # fmt: skip
        if json_out:
            if result.groups:
                _echo_json(result.to_json())
        else:
            if policy.empty and not snapshot_ids:
                typer.echo("no policy was specified, no snapshots will be removed")
            elif not snapshot_ids:
                typer.echo(f"Applying Policy: {policy}")
            for group in result.groups:
                typer.echo(f"snapshots for {group.key}:")
                reasons = {id(k.snapshot): k.matches for k in group.result.reasons}
                if group.result.keep:
                    typer.echo(f"keep {len(group.result.keep)} snapshots:")
                    for s in group.result.keep:
                        typer.echo(
                            f"  {s.short_id}  {s.doc.get('time')}  {', '.join(reasons.get(id(s), []))}"
                        )
                if group.result.remove:
                    typer.echo(f"remove {len(group.result.remove)} snapshots:")
                    for s in group.result.remove:
                        typer.echo(f"  {s.short_id}  {s.doc.get('time')}")
            if result.removed:
                verb = "would remove" if dry_run else "removed"
                typer.echo(f"{verb} {len(result.removed)} snapshots")
        if prune and result.removed:
            from ..prune import prune as run_prune

            with _phases() as progress:
                pruned = run_prune(r, dry_run=dry_run, lock=False, max_unused=max_unused, progress=progress,
                                   ignore_snapshots=set(result.removed) if dry_run else None)  # fmt: skip
            if not json_out:
                _print_prune(pruned.to_json())


# --- prune --------------------------------------------------------------------------------------------------


def _print_prune(doc: dict[str, Any]) -> None:
    mib = 2**20
    typer.echo(f"used: {doc['used_blobs']} blobs, {doc['used_size'] / mib:.2f} MiB")
    typer.echo(f"unused: {doc['unused_blobs']} blobs, {doc['unused_size'] / mib:.2f} MiB")
    typer.echo(
        f"packs: {len(doc['unreferenced_packs'])} unreferenced, {len(doc['remove_packs'])} to remove, "
        f"{len(doc['repack_packs'])} to repack ({doc['repack_size'] / mib:.2f} MiB)"
    )
    if doc["dry_run"]:
        typer.echo(f"would free {doc['remove_size'] / mib:.2f} MiB (dry run, nothing changed)")
    else:
        typer.echo(
            f"wrote {len(doc['new_packs'])} packs and {len(doc['new_index_files'])} index files, "
            f"deleted {doc['deleted_packs']} packs and {len(doc['deleted_index_files'])} index files"
        )


@app.command("prune")
@handle_errors
def prune_cmd(
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    dry_run: DryRunOpt = False,
    max_unused: MaxUnusedOpt = "5%",
    max_repack_size: Annotated[
        str | None, typer.Option("--max-repack-size", help="repack at most this much (e.g. 1G)")
    ] = None,
    repack_small: Annotated[bool, typer.Option("--repack-small", help="also repack small packs")] = False,
    repack_uncompressed: Annotated[
        bool, typer.Option("--repack-uncompressed", help="repack uncompressed data packs")
    ] = False,
    pack_size: Annotated[int, typer.Option("--pack-size", help="target pack size in MiB")] = 16,
    json_out: JsonOpt = False,
) -> None:
    """Remove unreferenced data and repack partly used packs (exclusive lock)."""
    from ..prune import prune
    from ..prune_plan import PruneOptionError, parse_max_unused, parse_size

    try:
        parse_max_unused(max_unused)
        repack_limit = parse_size(max_repack_size) if max_repack_size else None
    except PruneOptionError as e:
        raise CliError(str(e)) from e
    if pack_size < 1:
        raise CliError("--pack-size must be at least 1 (MiB)")
    r = open_repo(repo, password_file)
    with _phases() as progress:
        result = prune(
            r, dry_run=dry_run, max_unused=max_unused, max_repack_size=repack_limit,
            repack_small=repack_small, repack_uncompressed=repack_uncompressed,
            pack_size=pack_size * 2**20, progress=progress,
        )  # fmt: skip
    if json_out:
        _echo_json(result.to_json())
    else:
        _print_prune(result.to_json())


# --- rewrite ------------------------------------------------------------------------------------------------


@app.command("rewrite")
@handle_errors
def rewrite_cmd(
    snapshot_ids: Annotated[list[str] | None, typer.Argument(help="rewrite only these snapshots")] = None,
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-e", help="remove paths matching this pattern (repeatable)"),
    ] = None,
    exclude_file: Annotated[
        list[str] | None, typer.Option("--exclude-file", help="read patterns from a file (one per line)")
    ] = None,
    forget: Annotated[bool, typer.Option("--forget", help="delete the original snapshots")] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="erase: prune afterwards with --max-unused 0 so no erased byte remains"),
    ] = False,
    host: Annotated[str | None, typer.Option("--host", help="only snapshots of this host")] = None,
    tag: TagOpt = None,
    path: PathOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove files from existing snapshots (GDPR erasure): new snapshots without the excluded paths."""
    from ..prune import prune as run_prune
    from ..rewrite import RewriteError, rewrite, validate_patterns

    patterns = list(exclude or [])
    for name in exclude_file or []:
        try:
            with open(name, encoding="utf-8") as f:
                patterns += [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        except OSError as e:
            raise CliError(f"cannot read exclude file {name}: {e.strerror or e}") from e
    try:
        patterns = validate_patterns(patterns)
    except RewriteError as e:
        raise CliError(str(e)) from e
    if not patterns:
        raise CliError("nothing to do: give at least one --exclude pattern")
    if prune and not forget:
        raise CliError("--prune needs --forget: the original snapshots still reference the erased data")
    tags = [t for spec in tag or [] for t in spec.split(",") if t]
    r = open_repo(repo, password_file)
    try:
        with r.lock(exclusive=forget and not dry_run), _phases() as progress:
            result = rewrite(
                r, patterns, snapshot_ids=snapshot_ids, host=host, tags=tags, paths=path, forget=forget,
                dry_run=dry_run, lock=False, progress=progress,
            )  # fmt: skip
            pruned = None
            if prune and not dry_run and result.changed:
                pruned = run_prune(r, lock=False, max_unused="0%", progress=progress)
    except RewriteError as e:
        raise CliError(str(e)) from e
    if json_out:
        doc = result.to_json()
        if pruned is not None:
            doc["prune"] = pruned.to_json()
        _echo_json(doc)
        return
    for change in result.changed:
        what = "would rewrite" if dry_run else "rewrote"
        target = f" -> {change.new_id[:8]}" if change.new_id else ""
        typer.echo(
            f"{what} snapshot {change.old_id[:8]}{target}: {len(change.removed_paths)} path(s) removed"
        )
        for p in change.removed_paths:
            typer.echo(f"  removed {p}")
    typer.echo(f"{len(result.changed)} snapshot(s) changed, {len(result.unchanged)} unchanged")
    if result.forgotten:
        typer.echo(f"removed {len(result.forgotten)} original snapshot(s)")
    if pruned is not None:
        _print_prune(pruned.to_json())
    elif result.changed and not dry_run:
        typer.echo(
            "the erased data stays in the packs until `prune --max-unused 0` (or use --forget --prune)"
        )


# --- repair index ---------------------------------------------------------------------------------------

repair_app = typer.Typer(no_args_is_help=True, help="repair a damaged repository")
app.add_typer(repair_app, name="repair")


@repair_app.command("index")
@handle_errors
def repair_index_cmd(
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    read_all_packs: Annotated[
        bool, typer.Option("--read-all-packs", help="read every pack header, not only unindexed ones")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Rebuild the index from the pack files (after a damaged or lost index file)."""
    from ..repair import repair_index

    r = open_repo(repo, password_file)
    with _phases() as progress:
        result = repair_index(r, read_all_packs=read_all_packs, progress=progress)
    if json_out:
        _echo_json(result.to_json())
        return
    for index_id in result.damaged_index_files:
        typer.echo(f"damaged index file {index_id} replaced")
    for problem in result.unreadable_packs:
        typer.echo(f"warning: pack {problem} left out (unreadable header)", err=True)
    typer.echo(
        f"read {result.packs_read} pack headers; wrote {len(result.new_index_files)} index files "
        f"({result.blobs} blobs), deleted {len(result.deleted_index_files)}"
    )
