"""Build the course website: the executed notebooks as they are stored, with the pages of this
folder, into runs/site/_build/html. No notebook is run.

It assembles one folder (runs/site/book) from notebooks/ (solutions collapsed behind a
toggle), the pages of this folder and CONTRIBUTING.md (as the page "developing"), writes the
references page from the notebooks' own reference lists, and runs Jupyter Book on it, which
fails on a broken internal link. `make site` calls it in the environment of
docs/site/requirements.txt.

    python docs/site/build.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "runs" / "site"
BOOK = OUT / "book"
PAGES = ["_config.yml", "_toc.yml", *(page.name for page in HERE.glob("*.md"))]


def reference_lines(notebook: Path) -> list[str]:
    """The bullet lines of a notebook's "## References" cell."""
    for cell in json.loads(notebook.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and text.startswith("## References"):
            return [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]
    return []


def with_solutions_collapsed(notebook: dict) -> dict:
    """The notebook with every cell tagged "solution" also tagged "hide-cell": the site shows a
    toggle instead."""
    for cell in notebook["cells"]:
        tags = cell["metadata"].get("tags", [])
        if "solution" in tags:
            cell["metadata"]["tags"] = tags + ["hide-cell"]
    return notebook


def references_page(notebooks: list[Path]) -> str:
    """Every reference of the course once, with the notebooks that cite it, in order of first
    citation."""
    cited: dict[str, list[str]] = {}
    for notebook in notebooks:
        for line in reference_lines(notebook):
            cited.setdefault(line, []).append(notebook.stem[:2])
    lines = [
        f"- {reference} (notebooks {', '.join(numbers)})" for reference, numbers in cited.items()
    ]
    return (
        "# References\n\nEvery work the notebooks cite, once, with the notebooks that cite it.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def assemble() -> None:
    shutil.rmtree(OUT, ignore_errors=True)  # a clean build: no page of an earlier one survives
    BOOK.mkdir(parents=True)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for notebook in notebooks:
        # the notebooks link the site's pages by their place in the repository
        text = notebook.read_text().replace("](../docs/site/", "](")
        (BOOK / notebook.name).write_text(json.dumps(with_solutions_collapsed(json.loads(text))))
    for page in PAGES:
        shutil.copy(HERE / page, BOOK / page)
    # CONTRIBUTING.md links the site's pages by their place in the repository
    contributing = (ROOT / "CONTRIBUTING.md").read_text().replace("](docs/site/", "](")
    (BOOK / "developing.md").write_text(contributing)
    (BOOK / "references.md").write_text(references_page(notebooks))


def main() -> int:
    start = time.perf_counter()
    assemble()
    built = subprocess.run(
        [
            Path(sys.executable).parent / "jupyter-book",
            "build",
            str(BOOK),
            "--path-output",
            str(OUT),
            "--warningiserror",
            "--keep-going",
            "--quiet",
        ]
    )
    if built.returncode:
        print("the site build failed (its warnings are above)", file=sys.stderr)
        return built.returncode
    print(
        f"built the site in {time.perf_counter() - start:.0f} s: "
        f"{OUT / '_build' / 'html' / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
