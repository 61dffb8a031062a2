"""Make the graded assignments with Otter Assign, and grade handed-in notebooks with Otter.

    python tools/grade_assignments.py build                   # make assignments
    python tools/grade_assignments.py grade SUBMISSIONS       # make grade SUBMISSIONS=<folder>

`build` runs `otter assign` on every source notebook in assignments/. Each assignment gets a
folder in runs/assignments/ holding Otter's student/ (the notebook to hand out) and
autograder/ (the notebook with its solutions and the autograder zip). It does not execute
the solutions (tests/test_assignments.py grades them).

`grade` grades every .ipynb file in the folder SUBMISSIONS with `otter run` (on this machine,
no Docker) and the autograder of the notebook's assignment, which it reads from the
notebook's metadata as Otter does. It writes one row per submission to
runs/assignments/grades.csv: the file, the assignment, the points of every question (left
empty for the written questions, which Otter leaves to the instructor), the autograded total
and the autograded points possible. The written answers go, question by question, to
runs/assignments/written_answers.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "assignments"
BUILT = ROOT / "runs" / "assignments"
OTTER = [sys.executable, "-m", "otter"]
QUESTION_START = "# BEGIN QUESTION"
GRADING_LIMIT_SECONDS = 900  # one notebook; the solutions take under 30 s
WRITTEN_START, WRITTEN_END = "<!-- BEGIN QUESTION -->", "<!-- END QUESTION -->"


class AssignmentError(Exception):
    """Input the tool cannot work with; the message says what was wrong and what is allowed."""


@dataclass(frozen=True)
class Question:
    name: str
    points: float
    manual: bool


def sources() -> dict[str, Path]:
    """The source notebook of every assignment, by name."""
    return {path.stem: path for path in sorted(SOURCES.glob("*.ipynb"))}


def questions(source: Path) -> list[Question]:
    """An assignment's questions in order, from the configuration cells of its source."""
    found = []
    for cell in json.loads(source.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw" and text.startswith(QUESTION_START):
            settings = yaml.safe_load(text.removeprefix(QUESTION_START))
            found.append(
                Question(settings["name"], settings["points"], settings.get("manual", False))
            )
    return found


def build(out: Path = BUILT) -> dict[str, Path]:
    """Run Otter Assign on every source notebook into out/<name>/; return the student notebooks."""
    handed_out = {}
    for name, source in sources().items():
        target = out / name
        shutil.rmtree(target, ignore_errors=True)  # Otter would keep an old autograder zip
        run = subprocess.run(
            [*OTTER, "assign", "--no-pdfs", "--no-run-tests", str(source), str(target)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise AssignmentError(f"otter assign failed on {source}:\n{run.stdout}{run.stderr}")
        handed_out[name] = target / "student" / source.name
        print(f"{name}: hand out {handed_out[name]}; grade with {autograder_zip(name, out)}")
    return handed_out


def autograder_zip(name: str, built: Path = BUILT) -> Path:
    """The autograder zip that `build` made for an assignment."""
    zips = sorted((built / name / "autograder").glob(f"{name}-autograder_*.zip"))
    if not zips:
        raise AssignmentError(f"no autograder for {name} in {built}: run `make assignments` first")
    return zips[-1]  # the newest: Otter stamps the time into the name


def assignment_of(notebook: Path, names: list[str]) -> str:
    """The assignment a handed-in notebook belongs to, from the metadata Otter wrote into it."""
    try:
        metadata = json.loads(notebook.read_text())["metadata"]
    except (ValueError, KeyError) as error:
        raise AssignmentError(f"{notebook.name} is not a Jupyter notebook ({error})") from error
    name = metadata.get("otter", {}).get("assignment_name")
    allowed = ", ".join(names)
    if name is None:
        raise AssignmentError(
            f"{notebook.name} matches no assignment: its metadata names none, so it is not a "
            f"student notebook made by `make assignments` (assignments: {allowed})"
        )
    if name not in names:
        raise AssignmentError(
            f"{notebook.name} is for assignment {name!r}, which is not one of this course's "
            f"assignments ({allowed})"
        )
    return name


def submissions_in(folder: str, names: list[str]) -> dict[Path, str]:
    """Every notebook in `folder` with its assignment; every problem named at once."""
    if not folder:
        raise AssignmentError(
            "name the folder of handed-in notebooks: make grade SUBMISSIONS=<folder>"
        )
    path = Path(folder)
    if not path.is_dir():
        raise AssignmentError(
            f"no such folder: {folder}; SUBMISSIONS must be a folder of .ipynb files"
        )
    notebooks = sorted(path.glob("*.ipynb"))
    if not notebooks:
        raise AssignmentError(f"{folder} holds no .ipynb files; SUBMISSIONS must hold notebooks")
    matched, problems = {}, []
    for notebook in notebooks:
        try:
            matched[notebook] = assignment_of(notebook, names)
        except AssignmentError as error:
            problems.append(str(error))
    if problems:
        raise AssignmentError("\n".join(problems))
    return matched


def grade_one(notebook: Path, autograder: Path) -> dict[str, float]:
    """Otter's points for every autograded question of one notebook."""
    with tempfile.TemporaryDirectory() as results:
        try:
            run = subprocess.run(
                [*OTTER, "run", "--no-logo", "-a", str(autograder), "-o", results, str(notebook)],
                capture_output=True,
                text=True,
                timeout=GRADING_LIMIT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise AssignmentError(
                f"{notebook.name} ran longer than {GRADING_LIMIT_SECONDS} s (a loop that never "
                "ends?); grade it by hand"
            ) from None
        if run.returncode != 0:
            raise AssignmentError(f"otter run failed on {notebook}:\n{run.stdout}{run.stderr}")
        tests = json.loads((Path(results) / "results.json").read_text())["tests"]
    return {test["name"]: test["score"] for test in tests if "score" in test}


def written_answers(notebook: Path) -> list[str]:
    """The text of every written answer in a student notebook, in the order of the questions."""
    answers, current = [], None
    for cell in json.loads(notebook.read_text())["cells"]:
        text = "".join(cell["source"])
        if WRITTEN_START in text:
            current = []
        elif WRITTEN_END in text and current is not None:
            answers.append("\n\n".join(current).strip())
            current = None
        elif current is not None and cell["cell_type"] == "markdown":
            current.append(text)
    return answers


def grade(folder: str, built: Path = BUILT) -> list[dict]:
    """Grade every notebook in `folder`; write grades.csv and written_answers.md into `built`.

    A notebook Otter cannot grade gets a row without points; it is named at the end."""
    all_questions = {name: questions(source) for name, source in sources().items()}
    submissions = submissions_in(folder, list(all_questions))
    autograders = {name: autograder_zip(name, built) for name in set(submissions.values())}
    rows, failures, written = [], [], {}
    for notebook, name in submissions.items():
        row = {"file": notebook.name, "assignment": name}
        rows.append(row)
        manual = [(i, q) for i, q in enumerate(all_questions[name]) if q.manual]
        for (index, question), answer in zip(manual, written_answers(notebook)):
            written.setdefault((name, index, question), []).append((notebook.name, answer))
        start = time.perf_counter()
        try:
            points = grade_one(notebook, autograders[name])
        except AssignmentError as error:  # its written answers are collected all the same
            failures.append(str(error))
            continue
        auto = [q for q in all_questions[name] if not q.manual]
        missing = [q.name for q in auto if q.name not in points]
        if missing:
            failures.append(f"{notebook.name}: Otter reported no points for {missing}")
            continue
        row |= {q.name: points[q.name] for q in auto}
        row |= {"total": sum(row[q.name] for q in auto), "possible": sum(q.points for q in auto)}
        print(
            f"{notebook.name} ({name}): {row['total']:g} of {row['possible']:g} autograded points "
            f"in {time.perf_counter() - start:.0f} s"
        )
    columns = ["file", "assignment"]
    for name in sorted(set(submissions.values())):
        columns += [q.name for q in all_questions[name]]
    columns += ["total", "possible"]
    built.mkdir(parents=True, exist_ok=True)
    with open(built / "grades.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    (built / "written_answers.md").write_text(written_page(written))
    print(f"grades in {built / 'grades.csv'}; written answers in {built / 'written_answers.md'}")
    if failures:
        raise AssignmentError("\n".join(["Otter could not grade these notebooks:", *failures]))
    return rows


def written_page(written: dict[tuple[str, int, Question], list[tuple[str, str]]]) -> str:
    """The written answers grouped by question, so that one question is read for all at once."""
    lines = ["# Written answers", ""]
    for name, index, question in sorted(written, key=lambda key: key[:2]):
        lines += [f"## {name} · {question.name} ({question.points:g} points)", ""]
        for file, answer in written[name, index, question]:
            lines += [f"### {file}", "", answer, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    building = commands.add_parser(
        "build", help="student notebooks, autograders (make assignments)"
    )
    building.add_argument("--out", type=Path, default=BUILT, help=f"default {BUILT}")
    grading = commands.add_parser("grade", help="grade a folder of notebooks (make grade)")
    grading.add_argument("submissions", help="the folder of handed-in .ipynb files")
    grading.add_argument("--built", type=Path, default=BUILT, help="where `build` wrote")
    args = parser.parse_args(argv)
    try:
        build(args.out) if args.command == "build" else grade(args.submissions, args.built)
    except AssignmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
