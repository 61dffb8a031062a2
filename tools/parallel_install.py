"""Install the packages pip resolved, in several pip processes at once.

pip unpacks one wheel after another on one core, and the lab's environment holds about
6 GB, PyTorch and the CUDA libraries it depends on above all. This script reads pip's
installation report (from `pip install --dry-run --report FILE`), splits the packages it
lists into groups of about the same size and installs each group with its own
`pip install --no-deps`, all at once. Nothing is resolved again: every package is
installed at the version (or from the address) in the report.

    python tools/parallel_install.py REPORT [--processes N] [--quiet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path


def packages(report: dict) -> list[tuple[str, int | None]]:
    """(requirement, size of the wheel in bytes, or None when it is downloaded) for each package to install.

    The requirement is name==version, or name @ address for a package asked for by its address.
    """
    listed = []
    for item in report["install"]:
        url, name = item["download_info"]["url"], item["metadata"]["name"]
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)) if url.startswith("file:") else None
        size = path.stat().st_size if path and path.is_file() else None
        requirement = f"{name} @ {url}" if item.get("is_direct") else f"{name}=={item['metadata']['version']}"
        listed.append((requirement, size))
    return listed


def split(listed: list[tuple[str, int | None]], count: int) -> list[list[str]]:
    """`count` groups of about the same total size, largest packages placed first; a download
    (size unknown) counts as the mean size of those on disk."""
    known = [size for _, size in listed if size is not None]
    mean = sum(known) // len(known) if known else 1
    groups = [(0, index, []) for index in range(count)]
    for requirement, size in sorted(listed, key=lambda item: -(item[1] if item[1] is not None else mean)):
        total, index, names = min(groups)
        names.append(requirement)
        groups[index] = (total + (size if size is not None else mean), index, names)
    return [names for _, _, names in groups if names]


def install(groups: list[list[str]], quiet: bool) -> int:
    """One `pip install --no-deps --no-compile` per group, all running at once; the first failure's exit code, else 0."""
    with tempfile.TemporaryDirectory() as folder:
        processes = []
        for index, group in enumerate(groups):
            requirements = Path(folder, f"group-{index}.txt")
            requirements.write_text("\n".join(group) + "\n")
            command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-r", str(requirements)]
            processes.append(subprocess.Popen(command + (["--quiet"] if quiet else [])))
        codes = [process.wait() for process in processes]
    return next((code for code in codes if code), 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="pip's installation report (pip install --dry-run --report FILE)")
    parser.add_argument("--processes", type=int, default=min(4, os.cpu_count() or 1),
                        help="pip processes at once (default: the cores, at most 4)")
    parser.add_argument("--quiet", action="store_true", help="pass --quiet to pip")
    arguments = parser.parse_args(argv)
    if arguments.processes < 1:
        parser.error(f"--processes must be at least 1, got {arguments.processes}")
    listed = packages(json.loads(arguments.report.read_text()))
    return install(split(listed, arguments.processes), arguments.quiet)


if __name__ == "__main__":
    sys.exit(main())
