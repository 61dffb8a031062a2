"""Write every piece of the course that repeats the list of notebooks, from that one list.

notebooks/contents.toml lists the notebooks in reading order. From it this script writes:
- in each notebook: the navigation line with its Colab badge (first cell), the navigation line
  at the end (last cell) and the setup cell (the one after the `parameters` cell);
- in notebooks/00_index.ipynb: the table of notebooks, what to know before each, and the
  glossary (from docs/site/glossary.md, the one glossary);
- the README's table of notebooks, the instructor guide's time table (each lesson's minutes
  by the guide's rule, with docs/results/notebook_resources.json's running times) and its
  plans for a 90-minute class and a 3-hour workshop, and the website's table of contents
  (docs/site/_toc.yml).

    python tools/course_pages.py           # write them (make pages)
    python tools/course_pages.py --check   # list what is out of date; exit 1 if anything is

Text between `<!-- name -->` and `<!-- /name -->` in a Markdown file (or cell) is generated;
everything else is left alone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "00_index.ipynb"
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "site" / "instructor.md"
GLOSSARY = ROOT / "docs" / "site" / "glossary.md"
TOC = ROOT / "docs" / "site" / "_toc.yml"
RESOURCES = ROOT / "docs" / "results" / "notebook_resources.json"

REPOSITORY = "backdoor-lab/backdoor-lab"
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# The rule of the instructor guide's time table: a lesson's minutes in class
WORDS_PER_MINUTE = 120  # reading technical text
MINUTES_PER_SIGHT = 1  # looking at a figure, a table or a panel
MINUTES_PER_EXERCISE = 5
LESSON_MINUTES = 50  # one class

SETUP_CELL = f"""\
import sys
from pathlib import Path

if "google.colab" in sys.modules:  # on Colab only: fetch the lab, show its widgets
    !git clone --quiet --depth 1 https://github.com/{REPOSITORY} /content/backdoor-lab
    %cd /content/backdoor-lab/notebooks
    from google.colab import output

    output.enable_custom_widget_manager()
sys.path.insert(0, str(Path.cwd().parent))  # utils, also from a clone not installed (a hub)"""


@dataclass(frozen=True)
class Notebook:
    file: str
    title: str
    summary: str
    prerequisites: str

    @property
    def number(self) -> str:
        return self.file[:2]

    @property
    def path(self) -> Path:
        return NOTEBOOKS / f"{self.file}.ipynb"

    def link(self, prefix: str = "") -> str:
        return f"[{self.title}]({prefix}{self.file}.ipynb)"


def course() -> list[Notebook]:
    """The notebooks of notebooks/contents.toml, in reading order."""
    listed = tomllib.loads((NOTEBOOKS / "contents.toml").read_text())["notebook"]
    notebooks = [Notebook(**entry) for entry in listed]
    on_disk = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[1:]  # not 00
    if [n.file for n in notebooks] != on_disk:
        raise SystemExit(
            f"notebooks/contents.toml lists {[n.file for n in notebooks]}, "
            f"but notebooks/ holds {on_disk}: list every notebook once, in order"
        )
    return notebooks


# --- the pieces -------------------------------------------------------------------------------


def navigation(notebooks: list[Notebook], index: int, badge: bool) -> str:
    parts = ["[Contents](00_index.ipynb)"]
    if index > 0:
        parts.append(f"Previous: {notebooks[index - 1].link()}")
    if index + 1 < len(notebooks):
        parts.append(f"Next: {notebooks[index + 1].link()}")
    if badge:
        parts.append(f"[![Open in Colab]({COLAB_BADGE})]({COLAB}/{notebooks[index].file}.ipynb)")
    return " | ".join(parts)


def notebook_table(notebooks: list[Notebook], prefix: str) -> str:
    rows = [f"| {n.number} | {n.link(prefix)} | {n.summary} |" for n in notebooks]
    return "\n".join(["| # | notebook | what happens |", "| --- | --- | --- |", *rows])


def prerequisite_table(notebooks: list[Notebook]) -> str:
    rows = [f"| {n.number} | {n.prerequisites} |" for n in notebooks]
    return "\n".join(["| notebook | what helps to know beforehand |", "| --- | --- |", *rows])


def student_cells(notebook: dict) -> list[dict]:
    """The cells a class goes through: solutions left out."""
    return [c for c in notebook["cells"] if "solution" not in c["metadata"].get("tags", [])]


def student_words(notebook: dict) -> int:
    """Words of text a student reads: the markdown cells, solutions left out."""
    return sum(
        len("".join(cell["source"]).split())
        for cell in student_cells(notebook)
        if cell["cell_type"] == "markdown"
    )


def sights(notebook: dict) -> int:
    """What a class stops to look at: every figure in the stored outputs, every Markdown table,
    every cell that prints four lines or more (a table), every panel (cells whose output is
    not stored, `keep_output: false`). Solutions left out."""
    count = 0
    for cell in student_cells(notebook):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            count += len(re.findall(r"^\|\s*---", text, flags=re.MULTILINE))
            continue
        outputs = cell.get("outputs", [])
        printed = "".join(
            "".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream"
        )
        count += cell["metadata"].get("keep_output") is False
        count += sum(any(kind.startswith("image/") for kind in o.get("data", {})) for o in outputs)
        count += printed.count("\n") >= 4
    return count


def exercise_numbers(notebook: dict) -> list[int]:
    """The numbers of the exercises listed under the `## Exercises` heading (in its cell)."""
    for cell in student_cells(notebook):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "## Exercises" in text:
            listed = text[text.index("## Exercises") :]
            return [int(n) for n in re.findall(r"^(\d+)\. ", listed, flags=re.MULTILINE)]
    return []


@dataclass(frozen=True)
class LessonTime:
    words: int
    sights: int
    exercises: int
    running_seconds: float | None  # from an empty cache on two idle cores; None: not measured

    @property
    def minutes(self) -> float | None:
        if self.running_seconds is None:
            return None
        return (
            self.words / WORDS_PER_MINUTE
            + self.sights * MINUTES_PER_SIGHT
            + self.exercises * MINUTES_PER_EXERCISE
            + self.running_seconds / 60
        )


def lesson_time(entry: Notebook) -> LessonTime:
    notebook = json.loads(entry.path.read_text())
    measured = json.loads(RESOURCES.read_text())["notebooks"] if RESOURCES.exists() else {}
    seconds = measured[entry.file]["seconds"] if entry.file in measured else None
    exercises = len(exercise_numbers(notebook))
    return LessonTime(student_words(notebook), sights(notebook), exercises, seconds)


def time_table(notebooks: list[Notebook]) -> str:
    rows = []
    for n in notebooks:
        time = lesson_time(n)
        running = (
            "not measured" if time.running_seconds is None else f"{time.running_seconds:.0f} s"
        )
        total = "?" if time.minutes is None else f"**{time.minutes:.0f} min**"
        rows.append(
            f"| {n.number} · {n.title} | "
            f"{time.words:,} ({time.words / WORDS_PER_MINUTE:.0f} min) | "
            f"{time.sights} | {time.exercises} | {running} | {total} |"
        )
    header = "| lesson | words (reading) | figures and tables | exercises | running | in class |"
    return "\n".join([header, "| --- | --- | --- | --- | --- | --- |", *rows])


def plan(notebooks: list[Notebook], minutes: int, pause: int, before: int = 0) -> str:
    """The lessons, in order from the `before`-th, that fit whole into `minutes` with `pause`
    minutes left for questions and a break, with their start times; the ones before as
    homework before class, the rest as later classes."""
    rows, clock, later = [], 0.0, []
    for n in notebooks[before:]:
        needed = lesson_time(n).minutes
        if needed is not None and not later and clock + needed <= minutes - pause:
            rows.append(f"| {clock:.0f}-{clock + needed:.0f} | {n.number} · {n.title} |")
            clock += needed
        else:
            later.append(n.number + (" (running time not measured)" if needed is None else ""))
    lines = ["| minutes | lesson |", "| --- | --- |"]
    if before:
        lines.append(f"| before class | {', '.join(n.number for n in notebooks[:before])} |")
    lines += [*rows, f"| {clock:.0f}-{minutes} | questions, a break |"]
    if later:
        lines.append(f"| later classes | {', '.join(later)} |")
    return "\n".join(lines)


def glossary_markdown() -> str:
    """docs/site/glossary.md's MyST glossary as a plain Markdown list (for 00_index)."""
    body = GLOSSARY.read_text().split("```{glossary}\n", 1)[1].split("\n```", 1)[0]
    entries = []
    for block in body.strip().split("\n\n"):
        term, *text = block.splitlines()
        entry = f"- **{term.strip()}**: " + " ".join(line.strip() for line in text)
        entries.append(textwrap.fill(entry, 92, subsequent_indent="  "))
    return "\n".join(entries)


def toc(notebooks: list[Notebook]) -> str:
    chapters = "\n".join(f"      - file: {n.file}" for n in notebooks)
    pages = "\n".join(f"      - file: {page}" for page in SITE_PAGES)
    return (
        "# Written by tools/course_pages.py from notebooks/contents.toml: edit that list.\n"
        "format: jb-book\nroot: 00_index\nparts:\n"
        f"  - caption: The course\n    chapters:\n{chapters}\n"
        f"  - caption: Using and teaching it\n    chapters:\n{pages}\n"
    )


SITE_PAGES = [
    "running",
    "teaching",
    "instructor",
    "grading",
    "sweeps",
    "results",
    "reproducibility",
    "developing",
    "glossary",
    "references",
]


# --- writing them -----------------------------------------------------------------------------


def replace_block(text: str, name: str, content: str, where: str) -> str:
    """`text` with what lies between <!-- name --> and <!-- /name --> replaced by `content`."""
    pattern = re.compile(rf"(<!-- {name} -->\n)(?:.*?\n)?(<!-- /{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{where} has no block <!-- {name} --> ... <!-- /{name} --> to fill")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def set_source(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def course_notebook(notebook: dict, notebooks: list[Notebook], index: int) -> dict:
    cells = notebook["cells"]
    set_source(cells[0], navigation(notebooks, index, badge=True))
    set_source(cells[-1], navigation(notebooks, index, badge=False))
    parameters = [i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
    if len(parameters) != 1 or cells[parameters[0] + 1]["cell_type"] != "code":
        raise SystemExit(
            f"{notebooks[index].file}: expected one `parameters` cell followed by "
            "the setup code cell"
        )
    set_source(cells[parameters[0] + 1], SETUP_CELL)
    return notebook


def index_notebook(notebook: dict, notebooks: list[Notebook]) -> dict:
    blocks = {
        "notebooks": notebook_table(notebooks, ""),
        "prerequisites": prerequisite_table(notebooks),
        "glossary": glossary_markdown(),
    }
    for name, content in blocks.items():
        cell = next(
            (c for c in notebook["cells"] if f"<!-- {name} -->" in "".join(c["source"])), None
        )
        if cell is None:
            raise SystemExit(f"00_index has no cell with the block <!-- {name} -->")
        set_source(cell, replace_block("".join(cell["source"]), name, content, "00_index"))
    set_source(notebook["cells"][-1], f"Next: {notebooks[0].link()}")
    return notebook


def notebook_text(notebook: dict) -> str:
    """A notebook as Jupyter writes it (sorted keys, one space indent, a final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def pages(notebooks: list[Notebook]) -> dict[Path, str]:
    """Every generated file with the text it should have."""
    wanted = {}
    for index, entry in enumerate(notebooks):
        notebook = json.loads(entry.path.read_text())
        wanted[entry.path] = notebook_text(course_notebook(notebook, notebooks, index))
    wanted[INDEX] = notebook_text(index_notebook(json.loads(INDEX.read_text()), notebooks))
    wanted[README] = replace_block(
        README.read_text(), "notebooks", notebook_table(notebooks, "notebooks/"), "README.md"
    )
    guide = replace_block(GUIDE.read_text(), "times", time_table(notebooks), "instructor.md")
    guide = replace_block(
        guide, "class-90", plan(notebooks, 90, pause=10, before=1), "instructor.md"
    )
    wanted[GUIDE] = replace_block(
        guide, "workshop-180", plan(notebooks, 180, pause=15), "instructor.md"
    )
    wanted[TOC] = toc(notebooks)
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; list the files that are out of date"
    )
    args = parser.parse_args()
    stale = [path for path, text in pages(course()).items() if path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run `make pages`)")
        return 1 if stale else 0
    for path, text in pages(course()).items():
        if path in stale:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
