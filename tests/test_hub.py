"""The JupyterHub link of the teaching page: an nbgitpuller link whose fields clone this repository
and open a notebook that exists; and the hub's requirements include nbgitpuller and the course's
packages."""

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from test_binder import requirement_lines

ROOT = Path(__file__).resolve().parent.parent
# as in the README's Binder and Colab badges
REPOSITORY = "https://github.com/backdoor-lab/backdoor-lab"
TEACHING = ROOT / "docs" / "site" / "teaching.md"


def hub_link() -> str:
    [link] = re.findall(r"https://HUB/hub/user-redirect/git-pull\?\S+", TEACHING.read_text())
    return link


def test_the_hub_link_clones_this_repository_and_opens_the_contents_page():
    link = urlsplit(hub_link())
    assert (link.scheme, link.netloc, link.path) == ("https", "HUB", "/hub/user-redirect/git-pull")
    fields = parse_qs(link.query, strict_parsing=True)
    assert sorted(fields) == ["branch", "repo", "urlpath"] and all(
        len(v) == 1 for v in fields.values()
    )
    assert fields["repo"] == [REPOSITORY] and fields["branch"] == ["main"]
    # the fields are URL-encoded
    assert "%2F" in link.query and "/" not in link.query.split("repo=")[1].split("&")[0]
    interface, tree, folder, path = fields["urlpath"][0].split("/", 3)
    assert (interface, tree) == ("lab", "tree")
    # nbgitpuller clones into the repository's name
    assert folder == REPOSITORY.rsplit("/", 1)[1]
    assert path == "notebooks/00_index.ipynb" and (ROOT / unquote(path)).is_file()


def test_the_hub_needs_nbgitpuller_and_the_course_packages():
    lines = requirement_lines(ROOT / "docs" / "hub-requirements.txt")
    assert "-r ../requirements.txt" in lines
    assert any(re.match(r"nbgitpuller\b", line) for line in lines)
    assert "pip install -r docs/hub-requirements.txt" in TEACHING.read_text()
