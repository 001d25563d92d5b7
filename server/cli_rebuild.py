"""``optout rebuild``: source repositories in, a governed, versioned dataset release out.

Needs neither the app nor a database: it reads checkouts and table exports, the verified
exclusion list that ``optout exclusions pull`` saved (fail closed: no verified list, no
build) and, optionally, the reviewers' PII decisions (``optout pii decisions export``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click

from server.cli_pii import KEY_VARIABLE


@click.command("rebuild")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--inputs-from", "list_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="A list file: one 'PATH [host/owner/name]' per line.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The release directory, what gets published: shards, manifest, catalog "
              "(re-running into it resumes: done shards are kept).")
@click.option("--private", "private_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Outputs that name every input repository, opted-out ones included: "
              "ledger, clusters, changelog, inputs, shard state (default: <out>.private).")
@click.option("--release", required=True, help="The release name, as the catalog shows it.")
@click.option("--list", "state_dir", required=True, type=click.Path(file_okay=False),
              help="The pull state directory holding the verified exclusion list.")
@click.option("--trust", "trust_file", type=click.Path(exists=True, dir_okay=False),
              help="Pinned verifier keys (default: <list>/trust.pub).")
@click.option("--max-age", type=click.FloatRange(min=0), default=None,
              help="Refuse an exclusion list issued more than this many days ago.")
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The previous release: the changelog is against it, unchanged shards are "
              "copied from it.")
@click.option("--previous-private", type=click.Path(exists=True, file_okay=False,
              path_type=Path), help="The previous release's private directory (default: "
              "<previous>.private).")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              help="Cache of annotated inputs, signatures and clusters (default: "
              "<private>/work).")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="License policy as JSON (name, version, allow, deny, admit_no_license, ...).")
@click.option("--pii-decisions", type=click.Path(exists=True, dir_okay=False),
              help="Reviewers' decisions (JSON Lines); false positives are not redacted.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Settings as JSON (see the README); options below override it.")
@click.option("--shards", type=click.IntRange(1, 100_000), default=None)
@click.option("--max-file-bytes", type=click.IntRange(min=1), default=None)
@click.option("--language", "languages", multiple=True,
              help="Keep only this Linguist language (repeatable; default: all).")
@click.option("--no-near-dedup", is_flag=True, help="Deduplicate exact copies only.")
@click.option("--default-host", default=None, help="Host of inputs that do not name one.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes computing MinHash signatures (the output does not change).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rebuild(inputs, list_file, out_dir, private_dir, release, state_dir, trust_file, max_age,
            previous, previous_private, work, policy_file, pii_decisions, config_file, shards,
            max_file_bytes, languages, no_near_dedup, default_host, workers, as_json) -> None:
    """Build a release from git checkouts, directories and Parquet/JSON Lines exports.

    Applies the content filters, languages, license policy, the verified exclusion list,
    exact and near deduplication and PII redaction; writes deterministic Parquet shards, a
    manifest and a catalog for 'optout catalog load' into --out (publish it), and the ledger
    and a changelog against --previous into --private (keep it: it names opted-out
    repositories).
    Exit codes: 0 built; 2 bad input or settings; 3-12 no usable exclusion list (as for
    'optout exclusions pull': 7 expired, 12 none pulled, ...): nothing is built.

    \b
    Example:
      optout exclusions pull --server https://optout.example --trust optout.pub \\
          --state /var/lib/optout/exclusions
      optout rebuild checkouts/ stack.parquet --release v2 --out releases/v2 \\
          --previous releases/v1 --list /var/lib/optout/exclusions --trust optout.pub
    """
    from shared.exclusions.pull import PullError
    from shared.pii import load_decisions
    from shared.rebuild import PiiSettings, discover, load_exclusions
    from shared.rebuild import rebuild as run_rebuild
    from shared.rebuild.config import ConfigError

    if not inputs and list_file is None:
        _fail("give at least one input (a checkout, a folder of checkouts, a table) or "
              "--inputs-from")
    keys = _trusted_keys(Path(trust_file) if trust_file else Path(state_dir) / "trust.pub")
    try:
        exclusions = load_exclusions(state_dir, keys, max_age_days=max_age)
    except PullError as error:
        click.echo(f"error: {error} [{error.code}]; nothing built", err=True)
        sys.exit(error.exit_code)
    try:
        config = _config(config_file, shards=shards, max_file_bytes=max_file_bytes,
                         languages=tuple(languages) or None,
                         near_dedup=False if no_near_dedup else None,
                         default_host=default_host)
        policy = _policy(policy_file)
        key = os.environ.get(KEY_VARIABLE)
        false_positives = load_decisions(pii_decisions) if pii_decisions else frozenset()
        pii = PiiSettings(key.encode() if key else None, false_positives,
                          _sha256(pii_decisions) if pii_decisions else None)
        sources = discover(list(inputs), config.default_host, list_file)
        result = run_rebuild(sources, out_dir, release, exclusions, policy=policy,
                             config=config, pii=pii, previous=previous, work=work,
                             progress=_progress, workers=workers, private=private_dir,
                             previous_private=previous_private)
    except (ConfigError, ValueError, OSError) as error:
        _fail(str(error))
    _report(result, as_json)


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _trusted_keys(path: Path) -> list[str]:
    keys = ([line.strip() for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#")] if path.is_file() else [])
    if not keys:
        _fail(f"no verifier key in {path}: pass --trust KEYFILE")
    return keys


def _config(config_file, **overrides):
    from shared.rebuild import RebuildConfig

    settings = {}
    if config_file:
        try:
            settings = json.loads(Path(config_file).read_text("utf-8"))
        except ValueError as error:
            raise ValueError(f"{config_file}: not JSON: {error}") from None
        if not isinstance(settings, dict):
            raise ValueError(f"{config_file}: settings must be a JSON object")
        if "languages" in settings:
            settings["languages"] = tuple(settings["languages"])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return RebuildConfig().with_changes(**settings)


def _policy(policy_file):
    from shared.licenses import DEFAULT_POLICY, Policy

    if not policy_file:
        return DEFAULT_POLICY
    try:
        data = json.loads(Path(policy_file).read_text("utf-8"))
        if not isinstance(data, dict) or not data.get("name") or not data.get("version"):
            raise ValueError("a policy is a JSON object with at least 'name' and 'version'")
        return Policy(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except (TypeError, ValueError) as error:
        raise ValueError(f"{policy_file}: {error}") from None


def _sha256(path: str) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def _progress(label: str, total: int):
    from server.cli import progress_bar

    with progress_bar(total, label) as update:
        yield update or (lambda n: None)


def _report(result, as_json: bool) -> None:
    manifest = result.manifest
    total = sum(result.seconds.values()) or 1.0
    summary = {
        "release": manifest["release"], "out": str(result.out),
        "private": str(result.private),
        "totals": manifest["totals"], "filters": manifest["filters"],
        "dedup": manifest["dedup"], "exclusion_list": manifest["exclusion_list"],
        "shards": {"total": len(manifest["shards"]), **result.shards_reused},
        "reused": {"annotated_inputs": result.scans_reused,
                   "clusters": result.clusters_reused},
        "seconds": {k: round(v, 3) for k, v in sorted(result.seconds.items())},
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    totals = manifest["totals"]
    click.echo(f"release {manifest['release']}: {totals['released_files']} of "
               f"{totals['input_files']} files from {totals['repositories']} repositories "
               f"in {len(manifest['shards'])} shards ({result.out}; ledger and changelog, "
               f"not for publishing: {result.private})")
    for reason, count in manifest["filters"].items():
        click.echo(f"  dropped {count:>8}  {reason}")
    click.echo(f"  exclusion list v{manifest['exclusion_list']['version']}, "
               f"{totals['redactions']} PII value(s) redacted in {totals['redacted_files']} "
               f"file(s)")
    stages = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(
        result.seconds.items(), key=lambda item: -item[1]))
    click.echo(f"  {total:.1f} s: {stages}")
