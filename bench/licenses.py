#!/usr/bin/env python3
"""License detection benchmark: our detector (askalono's store + notice rules) against ScanCode.

It builds a labelled corpus in a temporary directory from texts shipped by installed packages:

  spdx       SPDX license texts as ScanCode ships them (``licensedcode/data/licenses``, every
             license with an SPDX id; a seeded sample plus the common licenses), label = id;
  installed  license files of installed distributions whose metadata declares a PEP 639
             ``License-Expression`` and that ship exactly one license file, label = that
             expression (both venvs are searched; identical texts are kept once);
  variants   realistic rewrites of the common licenses: filled copyright lines, text re-wrapped
             to 60 and 100 columns, a Markdown title with bold headings, the license pasted
             under a README "## License" section, and short notices in README sections and
             LICENSE files ("Licensed under either of X or Y at your option", ...).

Each detector runs in its own fresh process, one after the other, over the same files: ours
in this interpreter (``shared.licenses.detect_text``), ScanCode in the interpreter given by
``--scancode-python`` (``scancode.api.get_licenses`` with a real ``time.time() + N`` deadline).
Load time (askalono store / ScanCode index) is reported apart from the scan; files/s is the
scan loop alone; peak memory is the worker's maximum resident set size (``ru_maxrss``).
A prediction is right when its SPDX expression, normalised by license-expression, equals the
label's exactly (same ids, same operators; aliases such as GPL-2.0-only vs -or-later count as
wrong).

    .venv/bin/python bench/licenses.py                          # ScanCode from .venv-scancode
    .venv/bin/python bench/licenses.py --scancode-python none   # ours only
    .venv/bin/python bench/licenses.py --markdown               # the table for RESULTS.md

Set up ScanCode apart from the project's environment (it needs pluggy<1.7, pins spdx-tools
and brings ~50 packages and a 1.4 GB index):

    python3 -m venv .venv-scancode && .venv-scancode/bin/pip install \\
        'scancode-toolkit-mini==32.5.0' 'pluggy<1.7'

Exit status: 0 when the benchmark ran (targets missed are reported, not failed), 2 on a usage
error. Targets (issue 5): accuracy >= ScanCode's, files/s >= 10x ScanCode's, peak < 300 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMON = [
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "GPL-2.0-only",
    "GPL-3.0-only",
    "LGPL-2.1-only",
    "LGPL-3.0-only",
    "AGPL-3.0-only",
    "MPL-2.0",
    "Unlicense",
    "Zlib",
    "BSL-1.0",
    "CC0-1.0",
    "EPL-2.0",
    "0BSD",
    "MIT-0",
    "Artistic-2.0",
    "PostgreSQL",
]
NOTICES = [
    (
        "Licensed under either of\n\n * Apache License, Version 2.0\n * MIT license\n\n"
        "at your option.",
        "Apache-2.0 OR MIT",
    ),
    ("licensed under either of MIT or Apache-2.0", "MIT OR Apache-2.0"),
    (
        'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this '
        "file except in compliance with the License.",
        "Apache-2.0",
    ),
    ("This project is licensed under the MIT License - see the LICENSE file for details.", "MIT"),
    ("Released under the GNU General Public License v3.0 or later.", "GPL-3.0-or-later"),
    (
        "Distributed under the BSD 3-Clause License. See `LICENSE` for more information.",
        "BSD-3-Clause",
    ),
    ("Dual-licensed under MIT or the Unlicense.", "MIT OR Unlicense"),
    (
        "This library is free software; you can redistribute it and/or modify it under the terms "
        "of the GNU Lesser General Public License as published by the Free Software Foundation; "
        "either version 2.1 of the License, or (at your option) any later version.",
        "LGPL-2.1-or-later",
    ),
    ("Code licensed under the Mozilla Public License, v. 2.0.", "MPL-2.0"),
    ("Licensed under the ISC license.", "ISC"),
]
README_TOP = (
    "# widget\n\nA small library that does one thing well.\n\n## Usage\n\n    widget run\n\n"
)
README_END = "\n\n## Contributing\n\nPull requests are welcome. Please add tests.\n"


def site_packages() -> list[Path]:
    found = []
    for venv in (ROOT / ".venv", ROOT / ".venv-scancode"):
        found.extend(venv.glob("lib/python3*/site-packages"))
    return found


def scancode_license_texts() -> dict[str, str]:
    """SPDX id -> text, from ScanCode's license data (the SPDX texts it matches against)."""
    texts = {}
    for site in site_packages():
        folder = site / "licensedcode" / "data" / "licenses"
        for path in sorted(folder.glob("*.LICENSE")):
            raw = path.read_text(encoding="utf-8", errors="replace")
            parts = raw.split("---\n", 2)
            if len(parts) < 3:
                continue
            meta, text = parts[1], parts[2].strip()
            key = re.search(r"^spdx_license_key:\s*(\S+)", meta, re.MULTILINE)
            if (
                key
                and not key.group(1).startswith("LicenseRef-")
                and not re.search(
                    r"^is_(?:exception|deprecated|unknown|generic): yes", meta, re.MULTILINE
                )
                and len(text) >= 300
            ):
                texts.setdefault(key.group(1), text)
    return texts


def installed_license_files() -> list[tuple[str, str]]:
    """(text, License-Expression) for distributions with one license file."""
    from email.parser import Parser

    found = []
    for site in site_packages():
        for info in sorted(site.glob("*.dist-info")):
            meta_path = info / "METADATA"
            if not meta_path.exists():
                continue
            meta = Parser().parsestr(meta_path.read_text(encoding="utf-8", errors="replace"))
            expression = meta.get("License-Expression")
            files = (
                [p for p in (info / "licenses").rglob("*") if p.is_file()]
                if (info / "licenses").is_dir()
                else []
            )
            if expression and len(files) == 1:
                found.append((files[0].read_text(encoding="utf-8", errors="replace"), expression))
    return found


def fill_copyright(text: str) -> str:
    text = re.sub(r"<year>|\[yyyy\]|\[year\]|<yyyy>", "2019-2024", text, flags=re.I)
    holder = (
        r"<(?:copyright holders?|owner|name of author|organization)>"
        r"|\[(?:name of copyright owner|fullname|name)\]"
    )
    text = re.sub(holder, "Jane Q. Developer", text, flags=re.I)
    return "Copyright (c) 2019-2024 Jane Q. Developer <jane@example.org>\n\n" + text


def rewrap(text: str, width: int) -> str:
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in paragraphs)


def markdown(text: str, spdx: str) -> str:
    lines = text.strip().split("\n")
    body = "\n".join(
        f"**{line.strip()}**" if line.strip().isupper() and len(line) < 60 else line
        for line in lines
    )
    return f"# {spdx} License\n\n{body}\n"


def build_corpus(folder: Path, sample: int, seed: int) -> list[dict]:
    """Write the corpus files and return [{path, label, category}]."""
    rng = random.Random(seed)
    spdx = scancode_license_texts()
    items: list[tuple[str, str, str, str]] = []  # name, text, label, category
    chosen = [k for k in COMMON if k in spdx]
    others = sorted(set(spdx) - set(chosen))
    chosen += rng.sample(others, min(sample, len(others)))
    for key in chosen:
        items.append(("LICENSE", spdx[key], key, "spdx"))
    for text, expression in installed_license_files():
        items.append(("LICENSE", text, expression, "installed"))
    for key in [k for k in COMMON if k in spdx]:
        text = spdx[key]
        items.append(("LICENSE", fill_copyright(text), key, "variant:copyright"))
        items.append(("LICENSE.txt", rewrap(text, 60), key, "variant:rewrap-60"))
        items.append(("LICENSE", rewrap(fill_copyright(text), 100), key, "variant:rewrap-100"))
        items.append(("LICENSE.md", markdown(text, key), key, "variant:markdown"))
        items.append(
            (
                "README.md",
                README_TOP + "## License\n\n" + text + README_END,
                key,
                "variant:readme-section",
            )
        )
    for notice, expression in NOTICES:
        items.append(
            (
                "README.md",
                README_TOP + "## License\n\n" + notice + README_END,
                expression,
                "notice:readme",
            )
        )
        items.append(
            (
                "LICENSE",
                f"Copyright 2024 Jane Q. Developer\n\n{notice}\n",
                expression,
                "notice:license-file",
            )
        )
    corpus, seen = [], set()
    for index, (name, text, label, category) in enumerate(items):
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        path = folder / f"{index:04d}" / name
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        corpus.append({"path": str(path), "label": label, "category": category})
    return corpus


# --- workers (each runs in a fresh process) -----------------------------------------------


def worker_ours(paths: list[str]) -> dict:
    sys.path.insert(0, str(ROOT))
    from shared.licenses import detect_text, expressions
    from shared.licenses.files import LICENSE_FILE_BYTES, read_text
    from shared.licenses.textmatch import default_matcher

    started = time.perf_counter()
    matcher = default_matcher()
    assert matcher.store is not None, "askalono store not loaded"
    load = time.perf_counter() - started
    predictions = []
    started = time.perf_counter()
    for path in paths:
        text = read_text(path, LICENSE_FILE_BYTES) or ""
        found = [e.expression for e in detect_text(text, os.path.basename(path), matcher)]
        predictions.append(expressions.combine(found))
    elapsed = time.perf_counter() - started
    return {
        "load_s": load,
        "scan_s": elapsed,
        "predictions": predictions,
        "version": f"pyaskalono {matcher.version}",
    }


def worker_scancode(paths: list[str], timeout: float) -> dict:
    import scancode_config
    from licensedcode.cache import get_index
    from scancode.api import get_licenses

    started = time.perf_counter()
    get_index()
    load = time.perf_counter() - started
    predictions = []
    started = time.perf_counter()
    for path in paths:
        result = get_licenses(path, deadline=time.time() + timeout)
        predictions.append(result.get("detected_license_expression_spdx"))
    elapsed = time.perf_counter() - started
    return {
        "load_s": load,
        "scan_s": elapsed,
        "predictions": predictions,
        "version": f"scancode-toolkit {scancode_config.__version__}",
    }


def run_worker(python: str, name: str, corpus_file: Path, timeout: float) -> dict:
    out = corpus_file.with_name(f"{name}.json")
    command = [
        python,
        __file__,
        "--worker",
        name,
        "--corpus",
        str(corpus_file),
        "--worker-out",
        str(out),
        "--timeout",
        str(timeout),
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} worker failed:\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["wall_s"] = time.perf_counter() - started
    return result


def worker_main(args) -> None:
    corpus = json.loads(Path(args.corpus).read_text())
    paths = [item["path"] for item in corpus]
    ours = args.worker == "ours"
    result = worker_ours(paths) if ours else worker_scancode(paths, args.timeout)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.worker_out).write_text(json.dumps(result))


# --- scoring and report -----------------------------------------------------------------


def canonical(expression: str | None) -> str | None:
    from shared.licenses.expressions import licensing, normalize

    if not expression:
        return None
    try:
        parsed = licensing().parse(normalize(expression).expression)
        return licensing().dedup(parsed).render() if parsed is not None else None
    except Exception:
        return expression


def same(prediction: str | None, label: str) -> bool:
    from shared.licenses.expressions import licensing

    predicted, wanted = canonical(prediction), canonical(label)
    if predicted is None or wanted is None:
        return predicted == wanted
    if predicted == wanted:
        return True
    try:
        return bool(licensing().is_equivalent(predicted, wanted))
    except Exception:
        return False


def score(corpus: list[dict], result: dict) -> dict:
    by_category: dict[str, list[int]] = {}
    wrong = []
    for item, prediction in zip(corpus, result["predictions"], strict=True):
        ok = same(prediction, item["label"])
        group = item["category"].split(":")[0]
        by_category.setdefault(group, [0, 0])
        by_category[group][0] += ok
        by_category[group][1] += 1
        if not ok:
            wrong.append((item["category"], item["label"], prediction))
    correct = sum(c for c, _ in by_category.values())
    return {
        "correct": correct,
        "accuracy": correct / len(corpus),
        "files_per_s": len(corpus) / result["scan_s"],
        "by_category": by_category,
        "wrong": wrong,
    }


def report(corpus: list[dict], results: dict[str, dict], markdown_out: bool) -> str:
    categories = sorted({item["category"].split(":")[0] for item in corpus})
    header = [
        "detector",
        "files",
        "exact accuracy",
        *categories,
        "files/s (scan)",
        "load s",
        "peak RSS MB",
    ]
    rows = []
    for name, result in results.items():
        s = result["score"]
        cells = [
            f"{name} ({result['version']})",
            str(len(corpus)),
            f"{s['accuracy']:.1%} ({s['correct']})",
        ]
        cells += [f"{c}/{n}" for c, n in (s["by_category"][k] for k in categories)]
        cells += [
            f"{s['files_per_s']:,.1f}",
            f"{result['load_s']:.1f}",
            f"{result['peak_rss_mb']:,.0f}",
        ]
        rows.append(cells)
    if markdown_out:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if "ours" in results and "scancode" in results:
        ours, theirs = results["ours"], results["scancode"]
        speed = ours["score"]["files_per_s"] / theirs["score"]["files_per_s"]
        accurate = ours["score"]["accuracy"] >= theirs["score"]["accuracy"]
        peak = ours["peak_rss_mb"]
        lines.append("")
        lines.append(
            f"targets: accuracy {ours['score']['accuracy']:.1%} vs ScanCode "
            f"{theirs['score']['accuracy']:.1%} ({'met' if accurate else 'MISSED'}); "
            f"speed {speed:.1f}x ({'met' if speed >= 10 else 'MISSED'}); "
            f"peak {peak:.0f} MB ({'met' if peak < 300 else 'MISSED'})"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scancode-python",
        default=str(ROOT / ".venv-scancode/bin/python"),
        help="interpreter with scancode-toolkit-mini installed, or 'none'",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=150,
        help="SPDX texts sampled beyond the common ones (default 150)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="ScanCode deadline per file, seconds from now"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--show-wrong", action="store_true", help="list every miss")
    parser.add_argument("--worker", choices=["ours", "scancode"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return 0
    with_scancode = args.scancode_python != "none"
    if with_scancode and not Path(args.scancode_python).exists():
        print(
            f"error: no ScanCode interpreter at {args.scancode_python} (see --help)",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-licenses-") as tmp:
        corpus = build_corpus(Path(tmp) / "corpus", args.sample, args.seed)
        corpus_file = Path(tmp) / "corpus.json"
        corpus_file.write_text(json.dumps(corpus))
        counts = {}
        for item in corpus:
            counts[item["category"]] = counts.get(item["category"], 0) + 1
        print(
            f"corpus: {len(corpus)} files: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
        results = {"ours": run_worker(sys.executable, "ours", corpus_file, args.timeout)}
        if with_scancode:
            results["scancode"] = run_worker(
                args.scancode_python, "scancode", corpus_file, args.timeout
            )
        for result in results.values():
            result["score"] = score(corpus, result)
    print(report(corpus, results, args.markdown))
    if args.show_wrong:
        for name, result in results.items():
            print(f"\n{name} misses:")
            for category, label, prediction in result["score"]["wrong"]:
                print(f"  {category:24} want {label:32} got {prediction}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
