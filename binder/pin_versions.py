"""Write binder/requirements.txt: every package the notebooks need, pinned to the version installed here.

`make pins` runs it in the environment the tests passed in, so that a Binder build next
year installs what was tested. ../requirements.txt keeps ranges; this file follows it and
every package those packages need, in turn, for Linux and this Python; PyTorch's CUDA
libraries are left out, since Binder installs its CPU-only build, which needs none.

    .venv/bin/python binder/pin_versions.py
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
CUDA_ONLY = ("nvidia-", "cuda-", "triton")   # what only PyTorch's CUDA build needs
HEADER = """\
# What Binder (repo2docker) installs: ../requirements.txt and everything it needs, pinned to
# the versions the tests passed with (written by `make pins`; do not edit by hand). PyTorch
# comes as its CPU-only build: Binder has no GPU, and the default build with CUDA makes the
# image several GB. postBuild then installs the lab's own utils package and prepares the data.
--extra-index-url https://download.pytorch.org/whl/cpu
"""


def top_level(path: Path) -> list[Requirement]:
    """The requirements of a requirements file (comments, options and blank lines left out)."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """{canonical name: installed version} of the requirements and, recursively, what they need here,
    with the extras they ask for (jupyter-events asks for jsonschema[format-nongpl])."""
    pinned, followed = {}, {}   # followed: {name: the extras whose requirements are queued already ("" for the plain ones)}
    todo = [(requirement, "") for requirement in requirements]   # (requirement, the extra it was asked for under)
    while todo:
        requirement, extra = todo.pop()
        name = canonicalize_name(requirement.name)
        if name.startswith(CUDA_ONLY) or (requirement.marker and not requirement.marker.evaluate({"extra": extra})):
            continue
        new_extras = {"", *requirement.extras} - followed.setdefault(name, set())
        if not new_extras:
            continue
        followed[name] |= new_extras
        distribution = metadata.distribution(name)
        pinned[name] = distribution.version
        todo.extend((Requirement(text), wanted) for wanted in new_extras for text in distribution.requires or [])
    return pinned


def main() -> None:
    pins = closure(top_level(HERE.parent / "requirements.txt"))
    lines = [f"{name}=={version.split('+')[0]}" for name, version in sorted(pins.items())]
    (HERE / "requirements.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"pinned {len(lines)} packages in binder/requirements.txt")


if __name__ == "__main__":
    main()
