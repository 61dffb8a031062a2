"""The pages written from one source agree with it: the notebook list (notebooks/contents.toml)
with every notebook's navigation, badge and setup cell, the README, 00_index, the instructor's
guide and the website's contents; the measured figures (docs/results/) with the README and the
results page. `make pages` rewrites them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import course_pages  # noqa: E402  (tools/ is not a package)


@pytest.mark.parametrize("script", ["course_pages.py", "results_pages.py"])
def test_the_generated_pages_are_up_to_date(script):
    done = subprocess.run(
        [sys.executable, str(TOOLS / script), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_notebook_of_the_list_links_its_neighbours_and_opens_in_colab():
    notebooks = course_pages.course()
    for index, entry in enumerate(notebooks):
        cells = json.loads(entry.path.read_text())["cells"]
        first, last = "".join(cells[0]["source"]), "".join(cells[-1]["source"])
        assert (
            "colab.research.google.com/github/backdoor-lab/backdoor-lab/blob/main/notebooks/"
            f"{entry.file}.ipynb" in first
        )
        for neighbour in notebooks[max(index - 1, 0) : index] + notebooks[index + 1 : index + 2]:
            assert f"({neighbour.file}.ipynb)" in first and f"({neighbour.file}.ipynb)" in last


def test_a_notebook_missing_from_the_list_is_refused(tmp_path, monkeypatch):
    (tmp_path / "contents.toml").write_text((ROOT / "notebooks" / "contents.toml").read_text())
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        (tmp_path / notebook.name).write_text("{}")
    (tmp_path / "09_unlisted.ipynb").write_text("{}")
    monkeypatch.setattr(course_pages, "NOTEBOOKS", tmp_path)
    with pytest.raises(SystemExit, match="09_unlisted"):
        course_pages.course()


def test_every_lesson_fits_a_fifty_minute_class_by_the_guides_rule():
    """The rule of docs/site/instructor.md: reading, figures and tables, exercises and the
    measured running time (docs/results/notebook_resources.json, benchmarks/
    notebook_resources.py) add up to at most one class."""
    for entry in course_pages.course():
        time = course_pages.lesson_time(entry)
        assert time.running_seconds is not None, (
            f"{entry.file} has no measured running time: run benchmarks/notebook_resources.py"
        )
        print(f"{entry.file}: {time.minutes:.1f} min ({time})")
        assert time.minutes <= course_pages.LESSON_MINUTES, (entry.file, time)


def test_no_cell_makes_a_class_wait_more_than_a_minute():
    measured = json.loads(course_pages.RESOURCES.read_text())["notebooks"]
    for entry in course_pages.course():
        assert measured[entry.file]["slowest_cell_seconds"] <= 60, (
            entry.file,
            measured[entry.file],
        )


def test_the_rule_counts_words_sights_and_exercises():
    notebook = {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": ["one two three\n", "| a |\n|---|"],
            },
            {"cell_type": "markdown", "metadata": {}, "source": ["## Exercises\n\n1. x\n2. y"]},
            {"cell_type": "markdown", "metadata": {"tags": ["solution"]}, "source": ["not read"]},
            {"cell_type": "code", "metadata": {"keep_output": False}, "outputs": [], "source": []},
            {
                "cell_type": "code",
                "metadata": {},
                "source": [],
                "outputs": [
                    {"output_type": "display_data", "data": {"image/png": ""}},
                    {"output_type": "stream", "text": ["a\nb\nc\nd\n"]},
                    {"output_type": "stream", "text": ["short\n"]},
                ],
            },
        ]
    }
    assert course_pages.student_words(notebook) == 13  # every whitespace-separated token
    assert course_pages.sights(notebook) == 4  # the table, the panel, the figure, the printout
    assert course_pages.exercise_numbers(notebook) == [1, 2]
    time = course_pages.LessonTime(words=240, sights=4, exercises=2, running_seconds=120)
    assert time.minutes == 2 + 4 + 10 + 2


def test_a_page_without_its_markers_is_refused():
    with pytest.raises(SystemExit, match="<!-- notebooks -->"):
        course_pages.replace_block("no markers here", "notebooks", "table", "README.md")


BUILT_PAGES = {"references.md", "developing.md"}  # written by docs/site/build.py


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) < 150


@pytest.mark.parametrize(
    "page",
    [
        "README.md",
        "CONTRIBUTING.md",
        *(f"docs/site/{p.name}" for p in (ROOT / "docs/site").glob("*.md")),
    ],
)
def test_every_relative_link_of_a_page_leads_to_a_file(page):
    """The pages read on the repository's own site (links between files); `make site` checks
    the same links, and the headings they point to, in the built website."""
    folder = (ROOT / page).parent
    targets = re.findall(r"\]\((?!https?:|#)([^)#\s]+)", (ROOT / page).read_text())
    assert targets or page.endswith(("glossary.md", "results.md"))
    for target in targets:
        assert (folder / target).exists() or target in BUILT_PAGES, f"{page} links to {target}"
