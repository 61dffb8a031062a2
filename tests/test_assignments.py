"""The graded assignments (assignments/, Otter-Grader), built by the command of `make
assignments` and graded by that of `make grade`: every solution notebook scores full marks,
every untouched student notebook scores nothing, a wrong answer costs its question's points
and no other, the gradebook and the written answers hold what they should, and no solution
or hidden test reaches a student. Grading executes each notebook once, 10 to 25 s on two
cores; the tests that share the build and the grading run in one process, started early."""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import grade_assignments as tool  # noqa: E402  (tools/ is not a package)

ASSIGNMENTS = sorted(tool.sources())
# one wrong value planted in each solution notebook: (question, its solution text, the wrong text)
PLANTED = {
    "a1_attack": ("q2_budget", "450 / len(train.labels)", "449 / len(train.labels)"),
    "a2_detection": ("q7_threshold", "(calibration_entropy, 0.05)", "(calibration_entropy, 0.01)"),
    "a3_repair_and_stealth": ("q4_der", "- max(0, accuracy_drop)", "+ max(0, accuracy_drop)"),
}
SUBMITTED = ("solution", "untouched", "planted")  # the three notebooks graded per assignment


def questions(name: str) -> list[tool.Question]:
    return tool.questions(tool.SOURCES / f"{name}.ipynb")


def autograded(name: str) -> dict[str, float]:
    """Every autograded question of an assignment and its points."""
    return {q.name: q.points for q in questions(name) if not q.manual}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The assignments, built as `make assignments` builds them, into a folder of their own."""
    out = tmp_path_factory.mktemp("assignments")
    command = [sys.executable, str(TOOLS / "grade_assignments.py"), "build", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def planted(notebook: dict, name: str) -> dict:
    """The notebook with PLANTED's wrong text in place of the solution's, in its one place."""
    _, right, wrong = PLANTED[name]
    cells = [cell for cell in notebook["cells"] if right in "".join(cell["source"])]
    assert len(cells) == 1, f"{right!r} is in {len(cells)} cells of {name}, not in one"
    cells[0]["source"] = "".join(cells[0]["source"]).replace(right, wrong)
    return notebook


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    """The gradebook rows, by file name, of three submissions per assignment graded as `make
    grade` grades: the solution notebook, the untouched student notebook, and the solution
    notebook with one wrong value (PLANTED)."""
    folder = tmp_path_factory.mktemp("submissions")
    for name in ASSIGNMENTS:
        solution = built / name / "autograder" / f"{name}.ipynb"
        shutil.copy(solution, folder / f"{name}_solution.ipynb")
        shutil.copy(built / name / "student" / f"{name}.ipynb", folder / f"{name}_untouched.ipynb")
        wrong = planted(json.loads(solution.read_text()), name)
        (folder / f"{name}_planted.ipynb").write_text(json.dumps(wrong))
    rows = tool.grade(str(folder), built)
    return {row["file"]: row for row in rows}


def scores(row: dict, name: str) -> dict[str, float]:
    return {question: row[question] for question in autograded(name)}


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_solution_notebook_scores_full_marks(graded, name):
    row = graded[f"{name}_solution.ipynb"]
    assert scores(row, name) == autograded(name)
    assert row["total"] == row["possible"] == sum(autograded(name).values())


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_an_untouched_student_notebook_scores_nothing(graded, name):
    row = graded[f"{name}_untouched.ipynb"]
    assert scores(row, name) == dict.fromkeys(autograded(name), 0)
    assert row["total"] == 0


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_wrong_answer_costs_its_question_and_no_other(graded, name):
    wrong_question = PLANTED[name][0]
    row = graded[f"{name}_planted.ipynb"]
    assert scores(row, name) == autograded(name) | {wrong_question: 0}


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
def test_the_gradebook_has_a_row_per_submission_and_a_column_per_question(graded, built):
    with open(built / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    every_question = [q.name for name in ASSIGNMENTS for q in questions(name)]
    assert list(rows[0]) == ["file", "assignment", *every_question, "total", "possible"]
    assert sorted(row["file"] for row in rows) == sorted(graded)
    for row in rows:
        name = row["assignment"]
        assert row["file"].startswith(f"{name}_"), "each notebook graded for its assignment"
        for question in questions(name):  # written questions are left to the instructor
            assert (row[question.name] == "") == question.manual
        assert float(row["total"]) == graded[row["file"]]["total"]


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
def test_the_written_answers_are_collected_question_by_question(graded, built):
    page = (built / "written_answers.md").read_text()
    headings = re.findall(r"^## (\S+) · (\S+) \(", page, flags=re.MULTILINE)
    written = [(name, q.name) for name in ASSIGNMENTS for q in questions(name) if q.manual]
    assert headings == written
    for name, question in written:
        section = page.split(f"## {name} · {question} (")[1].split("\n## ")[0]
        files = re.findall(r"^### (\S+)$", section, flags=re.MULTILINE)
        assert files == [f"{name}_{submitted}.ipynb" for submitted in sorted(SUBMITTED)]


def solution_and_hidden_test_text(source: dict) -> tuple[set[str], set[str]]:
    """The lines of a source notebook's solutions (of an inline `# SOLUTION` line, what follows
    its `=`) and of its hidden tests, less those that also occur in its prompts, given code or
    public tests (a student sees those)."""
    solution, hidden, given = set(), set(), []
    in_solution_cells = False
    for cell in source["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw":
            in_solution_cells = text.startswith("# BEGIN SOLUTION") or (
                in_solution_cells and not text.startswith("# END SOLUTION")
            )
            continue
        if "# BEGIN TEST CONFIG" in text and "hidden: true" in text:
            hidden.update(text.splitlines())
            continue
        in_block = in_solution_cells and cell["cell_type"] == "markdown"
        for line in text.splitlines():
            if line.strip().startswith("# BEGIN SOLUTION"):
                in_block = True
            elif line.strip().startswith("# END SOLUTION"):
                in_block = False
            elif in_block:
                solution.add(line)
            elif line.rstrip().endswith("# SOLUTION"):
                solution.add(line.split("=", 1)[-1].removesuffix("# SOLUTION"))
                given.append(line.split("=", 1)[0])
            else:
                given.append(line)
    given_text = "\n".join(given)
    return tuple(
        {line.strip() for line in lines if line.strip() and line.strip() not in given_text}
        for lines in (solution, hidden)
    )


@pytest.mark.long
@pytest.mark.xdist_group("assignments")
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_student_notebook_holds_no_solution_and_no_hidden_test(built, name):
    source = json.loads((tool.SOURCES / f"{name}.ipynb").read_text())
    solution, hidden = solution_and_hidden_test_text(source)
    assert solution and hidden, "the source has solutions and hidden tests to look for"
    student = json.loads((built / name / "student" / f"{name}.ipynb").read_text())
    tests = student["metadata"]["otter"]["tests"]
    seen = "\n".join(["".join(cell["source"]) for cell in student["cells"]] + list(tests.values()))
    assert not [line for line in solution if line in seen], "a solution reached the students"
    assert not [line for line in hidden if line in seen], "a hidden test reached the students"
    assert all("hidden=False" in test and "hidden=True" not in test for test in tests.values())
    assert sorted(tests) == sorted(autograded(name)), "every code question has public tests"


def test_every_source_notebook_is_an_assignment_of_four_to_eight_questions():
    assert ASSIGNMENTS == ["a1_attack", "a2_detection", "a3_repair_and_stealth"]
    for name in ASSIGNMENTS:
        config = json.loads((tool.SOURCES / f"{name}.ipynb").read_text())["cells"][0]
        assert "".join(config["source"]).startswith("# ASSIGNMENT CONFIG")
        assert f"name: {name}\n" in "".join(config["source"])
        kinds = [q.manual for q in questions(name)]
        assert 4 <= len(kinds) <= 8 and any(kinds) and not all(kinds)


def test_the_grading_page_lists_every_question_with_its_points():
    page = (ROOT / "docs" / "site" / "grading.md").read_text()
    for name in ASSIGNMENTS:
        for question in questions(name):
            kind = "written" if question.manual else "code"
            row = f"| `{question.name}` | {question.points:g} | {kind} |"
            assert row in page, f"docs/site/grading.md lacks the row {row}"


def grade_error(folder: str, capsys, built: Path | None = None) -> str:
    """What `make grade SUBMISSIONS=folder` says when it refuses; it exits with status 2."""
    command = ["grade", folder, *(["--built", str(built)] if built else [])]
    assert tool.main(command) == 2
    return capsys.readouterr().err


def test_grading_without_a_folder_says_how_to_name_one(capsys):
    assert "make grade SUBMISSIONS=<folder>" in grade_error("", capsys)


def test_grading_a_folder_that_is_not_there_says_so(tmp_path, capsys):
    message = grade_error(str(tmp_path / "nowhere"), capsys)
    assert "no such folder" in message and "a folder of .ipynb files" in message


def test_grading_a_folder_without_notebooks_says_so(tmp_path, capsys):
    (tmp_path / "answers.txt").write_text("not a notebook")
    assert "holds no .ipynb files" in grade_error(str(tmp_path), capsys)


def test_grading_names_every_notebook_that_matches_no_assignment(tmp_path, capsys):
    shutil.copy(ROOT / "notebooks" / "02_poisoning.ipynb", tmp_path / "lesson.ipynb")
    other = {"cells": [], "metadata": {"otter": {"assignment_name": "a9_other"}}}
    (tmp_path / "other.ipynb").write_text(json.dumps(other))
    (tmp_path / "broken.ipynb").write_text("{ not json")
    message = grade_error(str(tmp_path), capsys)
    assert "lesson.ipynb matches no assignment" in message
    assert "other.ipynb is for assignment 'a9_other'" in message
    assert "broken.ipynb is not a Jupyter notebook" in message
    assert ", ".join(ASSIGNMENTS) in message, "the message lists the assignments allowed"


def test_grading_before_the_assignments_are_built_says_to_build_them(tmp_path, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    notebook = {"cells": [], "metadata": {"otter": {"assignment_name": ASSIGNMENTS[0]}}}
    (folder / "early.ipynb").write_text(json.dumps(notebook))
    message = grade_error(str(folder), capsys, built=tmp_path / "empty")
    assert f"no autograder for {ASSIGNMENTS[0]}" in message and "make assignments" in message


def test_a_notebook_otter_cannot_grade_gets_a_row_without_points_and_is_named(tmp_path, capsys):
    autograder = tmp_path / "built" / ASSIGNMENTS[0] / "autograder"
    autograder.mkdir(parents=True)
    (autograder / f"{ASSIGNMENTS[0]}-autograder_broken.zip").write_text("not a zip file")
    folder = tmp_path / "submissions"
    folder.mkdir()
    notebook = {"cells": [], "metadata": {"otter": {"assignment_name": ASSIGNMENTS[0]}}}
    (folder / "first.ipynb").write_text(json.dumps(notebook))
    message = grade_error(str(folder), capsys, built=tmp_path / "built")
    assert "Otter could not grade these notebooks" in message and "first.ipynb" in message
    with open(tmp_path / "built" / "grades.csv", newline="") as file:
        [row] = list(csv.DictReader(file))
    first_question = questions(ASSIGNMENTS[0])[0].name
    assert row["file"] == "first.ipynb" and row["total"] == row[first_question] == ""
