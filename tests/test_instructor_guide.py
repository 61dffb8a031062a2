"""The instructor's guide holds to the notebooks: its word counts (the reading times) and running
times match what the notebooks and the README's measured table say."""

import re
from pathlib import Path

from test_student_edition import cells, is_solution

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "instructor.md").read_text()


def student_words(notebook: Path) -> int:
    """Words of text a student reads: markdown cells, solutions left out."""
    return sum(len("".join(c["source"]).split()) for c in cells(notebook)
               if c["cell_type"] == "markdown" and not is_solution(c))


def guide_rows() -> dict[str, list[str]]:
    rows = re.findall(r"^\| (\d\d) · [^|]+\|([^\n]+)\|$", GUIDE, flags=re.M)
    return {number: [cell.strip() for cell in rest.split("|")] for number, rest in rows}


def test_every_notebook_has_a_row_whose_words_and_reading_time_fit_its_text():
    rows = guide_rows()
    notebooks = sorted((ROOT / "notebooks").glob("0[1-9]_*.ipynb"))
    assert sorted(rows) == [n.name[:2] for n in notebooks]
    for notebook in notebooks:
        words, reading, _, _ = rows[notebook.name[:2]]
        counted = student_words(notebook)
        assert abs(int(words.replace(",", "")) - counted) <= 0.1 * counted, (notebook.name, words, counted)
        assert int(reading.split()[0]) == round(int(words.replace(",", "")) / 150), (notebook.name, reading)


def test_the_running_times_are_the_measured_ones_of_the_readme():
    measured = dict(re.findall(r"^\| (\d\d)_\w+[^|]*\| (\d+) s \|", (ROOT / "README.md").read_text(), flags=re.M))
    assert len(measured) == 6
    for number, (_, _, running, _) in guide_rows().items():
        assert running == f"{measured[number]} s", number


def test_the_guide_links_to_readme_sections_that_exist():
    readme = (ROOT / "README.md").read_text()
    anchors = re.findall(r"\(https://github\.com/backdoor-lab/backdoor-lab#([\w-]+)\)", GUIDE)
    assert anchors
    for anchor in anchors:
        heading = anchor.replace("-", " ")
        assert re.search(rf"^#+ {heading}$", readme, flags=re.M | re.I), anchor
