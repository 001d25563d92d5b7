"""SPDX 2.3 documents of license verdicts, built with spdx-tools and checked by its validator.

One document per repository, describing one Package (the repository, ``files_analyzed``
false): ``license_declared`` is what the last scan found in the repository, and
``license_concluded`` is the current verdict's expression (the same, unless a reviewer
overrode it). No license found is ``NONE``; a repository without a verdict (in a release's
export) is ``NOASSERTION``. Every ``LicenseRef-`` used is declared in
``extracted_licensing_info``. A document that the validator finds any fault with is never
written, and files are written to a temporary name and renamed, so a failure leaves no empty
or partial file behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    CreationInfo,
    Document,
    ExtractedLicensingInfo,
    Package,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
    SpdxNone,
)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.write_anything import write_file

from server.models import LicenseVerdict

SUFFIXES = {"json": ".spdx.json", "tag-value": ".spdx"}
FORMATS = {"json": ("json",), "tag-value": ("tag-value",), "both": ("json", "tag-value")}
PACKAGE_ID = "SPDXRef-Repository"
MAX_EVIDENCE_LINES = 50
_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


class ExportError(ValueError):
    """A document that spdx-tools' validator refuses (never written)."""


@dataclass(frozen=True)
class Subject:
    """One repository to export: its address, current verdict and scanned expression."""

    host: str
    owner: str
    name: str
    verdict: LicenseVerdict | None = None
    declared: str | None = None  # the expression the newest scan found

    @property
    def address(self) -> str:
        return f"{self.host}/{self.owner}/{self.name}"


def tool_version() -> str:
    try:
        return metadata.version("optout")
    except metadata.PackageNotFoundError:
        return "dev"


def build_document(subject: Subject, namespace_base: str, created: dt.datetime) -> Document:
    """Build the SPDX 2.3 document of one repository's verdict."""
    verdict = subject.verdict
    stamp = f"verdict-{verdict.id}" if verdict else "no-verdict"
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=f"{subject.address} license verdict",
        document_namespace=(
            f"{namespace_base.rstrip('/')}/spdx/{subject.address}/{stamp}-{uuid.uuid4()}"
        ),
        creators=[Actor(ActorType.TOOL, f"optout-{tool_version()}")],
        created=created.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0),
        creator_comment="License verdict exported by Optout; see the package's license comment.",
    )
    concluded = _license(verdict.expression if verdict else None, verdict is not None)
    declared = _license(subject.declared, verdict is not None)
    package = Package(
        spdx_id=PACKAGE_ID,
        name=subject.address,
        download_location=f"git+https://{subject.address}.git",
        files_analyzed=False,
        license_concluded=concluded,
        license_declared=declared,
        license_comment=_license_comment(verdict),
        copyright_text=SpdxNoAssertion(),
        comment=_evidence_comment(verdict),
        primary_package_purpose=PackagePurpose.SOURCE,
    )
    expressions = [e for e in (subject.declared, verdict and verdict.expression) if e]
    return Document(
        creation,
        packages=[package],
        relationships=[Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, PACKAGE_ID)],
        extracted_licensing_info=_extracted(expressions, verdict),
    )


def _license(expression: str | None, judged: bool):
    if expression:
        return spdx_licensing.parse(expression)
    return SpdxNone() if judged else SpdxNoAssertion()


def _license_comment(verdict: LicenseVerdict | None) -> str:
    if verdict is None:
        return "Optout has no license verdict for this repository."
    admitted = "admitted" if verdict.admitted else "refused"
    by = "a reviewer's override" if verdict.source == "override" else "a scan"
    return (
        f"Optout verdict {verdict.verdict} ({admitted}) under policy {verdict.policy_name} "
        f"version {verdict.policy_version}, from {by}; detector {verdict.detector} "
        f"{verdict.detector_version}; verdict {verdict.id} of "
        f"{verdict.created_at.isoformat(timespec='seconds')}Z."
    )


def _evidence(verdict: LicenseVerdict | None) -> list[dict]:
    if verdict is None:
        return []
    return json.loads(verdict.evidence or "{}").get("items", [])


def _evidence_comment(verdict: LicenseVerdict | None) -> str | None:
    items = [e for e in _evidence(verdict) if e.get("kind") != "spdx_header"]
    headers = len(_evidence(verdict)) - len(items)
    lines = [
        f"{e['path']}: {e['expression']} (score {e['score']:.2f}, {e['detector']})"
        for e in items[:MAX_EVIDENCE_LINES]
    ]
    if len(items) > MAX_EVIDENCE_LINES:
        lines.append(f"... and {len(items) - MAX_EVIDENCE_LINES} more")
    if headers:
        lines.append(f"SPDX-License-Identifier headers in {headers} files")
    return "Evidence:\n" + "\n".join(lines) if lines else None


def _extracted(expressions: Iterable[str], verdict) -> list[ExtractedLicensingInfo]:
    refs = sorted({ref for e in expressions for ref in _REF.findall(e)})
    sources: dict[str, list[str]] = {}
    for item in _evidence(verdict):
        for ref in _REF.findall(item["expression"]):
            sources.setdefault(ref, []).append(item["path"])
    infos = []
    for ref in refs:
        paths = sorted(set(sources.get(ref, [])))
        where = f" It was found in: {', '.join(paths[:20])}." if paths else ""
        infos.append(
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=(
                    "A license outside the SPDX License List; Optout keeps no copy of its "
                    f"text.{where}"
                ),
                license_name=ref.removeprefix("LicenseRef-"),
                comment="Identifier assigned by Optout's license detection.",
            )
        )
    return infos


def check(document: Document) -> None:
    """Raise ``ExportError`` unless spdx-tools' validator finds nothing to say."""
    messages = validate_full_spdx_document(document)
    if messages:
        detail = "; ".join(m.validation_message for m in messages[:5])
        raise ExportError(f"{document.creation_info.name}: invalid SPDX document: {detail}")


def write_document(document: Document, path: Path) -> None:
    """Write a validated document atomically: to a temporary file, then renamed over ``path``."""
    suffix = ".spdx.json" if path.name.endswith(".spdx.json") else ".spdx"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write_file(document, temporary, validate=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def export(
    subjects: Iterable[Subject],
    out_dir: str | os.PathLike[str],
    formats: tuple[str, ...],
    namespace_base: str,
) -> list[Path]:
    """Write one document per subject (and format) under ``out_dir/host/owner/name``."""
    out = Path(out_dir)
    written = []
    created = dt.datetime.now(dt.UTC)
    for subject in subjects:
        document = build_document(subject, namespace_base, created)
        check(document)
        for fmt in formats:
            path = out / subject.host / subject.owner / f"{subject.name}{SUFFIXES[fmt]}"
            write_document(document, path)
            written.append(path)
    return written
