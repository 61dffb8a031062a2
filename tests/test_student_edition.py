"""The student edition: `make student` drops every solution, output and stored widget state;
nothing that remains needs what a solution defined, and every student notebook runs."""

import ast
import json
import subprocess
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from notebook_runs import run_papermill

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def is_solution(cell: dict) -> bool:
    return "solution" in cell["metadata"].get("tags", [])


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("edition") / "student"
    done = subprocess.run(
        ["make", "-s", "student", f"STUDENT={folder}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_every_notebook_is_there_without_solutions_outputs_or_widget_state(edition):
    assert sorted(p.name for p in edition.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for original in NOTEBOOKS:
        student = json.loads((edition / original.name).read_text())
        kept = [cell["source"] for cell in cells(original) if not is_solution(cell)]
        assert [cell["source"] for cell in student["cells"]] == kept, original.name
        assert set(student["metadata"]) <= {"kernelspec", "language_info"}
        for cell in student["cells"]:
            text = "".join(cell["source"])
            assert "# Solution" not in text and "### Solutions" not in text, (
                original.name,
                text[:80],
            )
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        if original.name != "00_index.ipynb":
            assert any("## Exercises" in "".join(cell["source"]) for cell in student["cells"]), (
                original.name
            )
            assert any(
                "parameters" in cell["metadata"].get("tags", []) for cell in student["cells"]
            )


def names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell defines, names it reads) at any depth, by its syntax tree (magics as IPython
    runs them)."""
    defined, read = set(), set()
    for node in ast.walk(ast.parse(TransformerManager().transform_cell(source))):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return defined, read


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_cell_left_in_the_student_edition_needs_what_a_solution_defined(notebook):
    from_solutions, from_the_rest = set(), set()
    for cell in cells(notebook):
        if cell["cell_type"] != "code":
            continue
        defined, read = names("".join(cell["source"]))
        if is_solution(cell):
            from_solutions |= defined - from_the_rest
        else:
            assert not read & from_solutions, (
                f"{notebook.name} reads {read & from_solutions} from a solution"
            )
            from_the_rest |= defined
            from_solutions -= defined


@pytest.mark.classroom
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_student_notebook_runs_top_to_bottom(edition, notebook, tmp_path):
    run_papermill(edition / notebook.name, tmp_path / notebook.name, keep_results_dir=False)
