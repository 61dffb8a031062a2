"""The committed notebooks, read as files: executed solutions, idle-machine timings, references.

These tests read what a student opens (the stored outputs), without running anything.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import course_pages  # noqa: E402  (tools/ is not a package)

NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[1:]  # not 00_index
STORED = [*sorted(NOTEBOOKS.glob("*.ipynb")), *sorted((ROOT / "demo").glob("*.ipynb"))]


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def output_text(cell):
    parts = []
    for output in cell.get("outputs") or []:
        if "text" in output:
            parts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            parts.append("".join(output["data"]["text/plain"]))
    return "".join(parts)


PERCENT = r"(?<![\d.])\d+(?:\.\d+)?%"  # 5%, 97.75%
PRECISE_PERCENT = r"(?<![\d.])\d+\.\d+%"  # 97.75% only


def exercise_numbers(path):
    return course_pages.exercise_numbers(json.loads(path.read_text()))


def test_there_are_chapters_to_check():
    assert len(CHAPTERS) >= 5


def test_the_notebooks_are_stored_without_timestamps_widget_state_or_panel_outputs():
    """What `make clean-notebooks` (nbstripout) strips: nothing may be left to strip."""
    nbstripout = Path(sys.executable).parent / "nbstripout"
    done = subprocess.run(
        [
            str(nbstripout),
            "--verify",
            "--keep-output",
            "--keep-count",
            "--keep-id",
            *map(str, STORED),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (
        f"run `make clean-notebooks`; nbstripout would change: {done.stdout}{done.stderr}"
    )


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_every_code_line_fits_in_100_characters(path):
    """ruff checks the Python; this also covers shell lines and magics."""
    long = [
        (index, line)
        for index, cell in enumerate(cells(path))
        if cell["cell_type"] == "code"
        for line in source(cell).splitlines()
        if len(line) > 100
    ]
    assert not long, long


DEFENSE_LESSONS = [
    "05_finding_poisoned_samples",
    "06_trigger_search_and_repair",
    "08_defense_matrix",
]


@pytest.mark.parametrize(
    "name",
    [*DEFENSE_LESSONS, "07_stealthier_attacks", "09_detection_challenge", "10_modern_defenses"],
)
def test_a_lesson_on_methods_lets_students_build_one_and_checks_it_against_the_lab(name):
    """Each "Build it yourself" section is followed by a code cell that defines the student's
    function and asserts it equal to the lab's (utils)."""
    notebook = cells(NOTEBOOKS / f"{name}.ipynb")
    built = [
        notebook[index + 1]
        for index, cell in enumerate(notebook)
        if cell["cell_type"] == "markdown" and "### Build it yourself" in source(cell)
    ]
    assert built, f"{name} has no 'Build it yourself' section"
    for cell in built:
        assert cell["cell_type"] == "code" and "def " in source(cell), source(cell)[:80]
        assert "assert " in source(cell), source(cell)[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_setup_and_results_cells_are_collapsed_and_left_off_the_site(path):
    notebook = cells(path)
    (parameters,) = [
        i for i, c in enumerate(notebook) if "parameters" in c["metadata"].get("tags", [])
    ]
    results = [c for c in notebook if source(c).startswith("# the key figures as JSON")]
    assert len(results) == 1, f"{path.name}: one results cell"
    for cell in (notebook[parameters + 1], results[0]):
        assert cell["metadata"].get("jupyter") == {"source_hidden": True}, source(cell)[:60]
        assert "remove-cell" in cell["metadata"].get("tags", []), source(cell)[:60]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_solution_records_its_figures_under_its_own_notebook(path):
    named = [
        re.search(r'solution_figures\(\s*"([^"]+)",\s*(\d+)', source(cell))
        for cell in cells(path)
        if "solution_figures(" in source(cell)
    ]
    for match in named:
        assert match and match.group(1) == path.stem, (path.name, match and match.group(0))
        number = int(match.group(2))
        assert any(
            source(c).startswith(f"# Solution {number}") and match.group(0) in source(c)
            for c in cells(path)
        ), (path.name, number)


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_a_stored_notebook_stays_under_400_kb(path):
    assert path.stat().st_size < 400_000, f"{path.name}: {path.stat().st_size:,} bytes"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_an_executed_hidden_solution(path):
    numbers = exercise_numbers(path)
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, (
        f"{path.name}: exercises numbered {numbers}"
    )
    solutions = {
        int(re.match(r"# Solution (\d+)", source(c)).group(1)): c
        for c in cells(path)
        if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", [])
    }
    for number in numbers:
        cell = solutions.get(number)
        assert cell is not None, (
            f"{path.name}: exercise {number} has no code cell tagged 'solution'"
        )
        assert cell["metadata"].get("jupyter") == {"source_hidden": True, "outputs_hidden": True}, (
            f"{path.name}: solution {number} is not collapsed"
        )
        assert (
            cell["outputs"]
            and output_text(cell)
            or any("image/png" in o.get("data", {}) for o in cell["outputs"])
        ), f"{path.name}: solution {number} was not executed (no output)"
        assert all(o["output_type"] != "error" for o in cell["outputs"]), (
            f"{path.name}: solution {number} stored an error"
        )
    assert "<details>" not in "".join(source(c) for c in cells(path)), (
        f"{path.name}: a solution still hides in <details>"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_solution_states_only_numbers_its_cell_prints(path):
    notebook = cells(path)
    for index, cell in enumerate(notebook):
        if cell["cell_type"] == "markdown" and "solution" in cell["metadata"].get("tags", []):
            printed = set(re.findall(PERCENT, output_text(notebook[index - 1])))
            for number in re.findall(PERCENT, source(cell)):
                assert number in printed, (
                    f"{path.name}: '{source(cell)[:30]}' states {number}, which its cell does not "
                    "print"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stored_training_times_come_from_an_idle_machine(path):
    for cell in cells(path):
        for seconds in re.findall(r"\bin (\d+(?:\.\d+)?) ?s\b", output_text(cell)):
            assert float(seconds) <= 30, (
                f"{path.name}: a stored output says 'in {seconds} s': re-run on an idle machine"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_precise_figures_in_the_text_are_printed_above_them(path):
    """A percentage with decimals in the text is printed by a cell above it, or comes from a named
    benchmark."""
    printed = set()
    for cell in cells(path):
        if cell["cell_type"] == "code":
            printed |= set(re.findall(PRECISE_PERCENT, output_text(cell)))
        elif "benchmarks/" not in source(cell):
            for figure in re.findall(PRECISE_PERCENT, source(cell)):
                assert figure in printed, (
                    f"{path.name}: the text states {figure}, which no output above it prints"
                )


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_ends_with_references_with_links(path):
    text = next((source(c) for c in cells(path) if source(c).startswith("## References")), "")
    entries = [line for line in text.splitlines() if line.startswith("- ")]
    assert entries, f"{path.name} has no references section"
    assert all(re.search(r"https?://", line) for line in entries), (
        f"{path.name}: a reference without a link"
    )
    assert any("linux-magazine.com" in line for line in entries), (
        f"{path.name}: the article is not cited"
    )


def test_the_contents_page_lists_prerequisites_and_a_glossary():
    text = "".join(source(c) for c in cells(NOTEBOOKS / "00_index.ipynb"))
    assert "## Glossary" in text
    for term in (
        "Attack success rate (ASR)",
        "Clean accuracy",
        "Source-specific backdoor",
        "All-to-one backdoor",
        "False trigger",
        "FRR / FAR",
        "Anomaly index",
        "MAD",
        "Silhouette",
        "Precision / recall",
        "Dormant neuron",
    ):
        assert f"**{term}" in text, f"the glossary lacks {term}"
    for topic in ("PCA", "k-means", "entropy", "median absolute deviation"):
        assert topic in text, f"the prerequisites do not mention {topic}"
