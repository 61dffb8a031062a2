"""Binder's files: valid for repo2docker, consistent with requirements.txt, and their build steps
work.

The build is checked in a fresh virtual environment that also sees this environment's
packages (through a .pth file), so that it does not install PyTorch again: it
proves that binder/requirements.txt resolves, that postBuild succeeds in a clean copy
of the repository, and that a notebook then runs there.
"""

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.long

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_binder_pins_a_python_the_lab_supports():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert match, f"runtime.txt must read python-3.X, got {runtime!r}"
    assert int(match.group(1)) >= 11  # pyproject.toml: requires-python >= 3.11


BINDER_PYTHON = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
}


def binder_pins() -> dict[str, Version]:
    """The pins that apply on Binder (Python 3.11 on Linux): uv.lock's export has pins for other
    Pythons and systems too, each behind its marker."""
    lines = [
        line for line in requirement_lines(BINDER / "requirements.txt") if not line.startswith("-")
    ]
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", (
            f"binder/requirements.txt must pin exact versions, got {line!r}"
        )
        if requirement.marker is None or requirement.marker.evaluate(BINDER_PYTHON):
            pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def test_binder_pins_every_package_of_requirements_txt_within_its_range_with_cpu_only_pytorch():
    options = [
        line for line in requirement_lines(BINDER / "requirements.txt") if line.startswith("-")
    ]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    pins = binder_pins()
    for line in requirement_lines(REPO / "requirements.txt"):
        wanted = Requirement(line)
        name = canonicalize_name(wanted.name)
        assert name in pins, (
            f"{name} is in requirements.txt but not pinned in binder/requirements.txt"
        )
        assert wanted.specifier.contains(pins[name]), (
            f"binder pins {name}=={pins[name]}, outside {wanted.specifier}"
        )
    # the CPU build needs none
    assert not [name for name in pins if name.startswith(("nvidia-", "cuda-", "triton"))]


def test_binder_pins_what_the_lock_pins():
    locked = {}
    for package in tomllib.loads((REPO / "uv.lock").read_text())["package"]:
        locked.setdefault(canonicalize_name(package["name"]), set()).add(
            Version(package["version"])
        )
    for name, version in binder_pins().items():
        assert version in locked.get(name, set()), (
            f"binder pins {name}=={version}, uv.lock has {locked.get(name)}"
        )


def test_post_build_is_an_executable_bash_script():
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert post_build.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(post_build)], check=True)


def build_in_fresh_environment(folder: Path) -> dict:
    """Copy what a commit holds, install binder/requirements.txt in a new environment, run
    postBuild and notebook 01.

    Returns every step's finished process, or {"skip": why} outside a git checkout.
    """
    copy = folder / "repository"
    # what a commit would hold
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = (
        subprocess.run(listed, cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    if not any(tracked):
        return {"skip": "not a git checkout: cannot tell which files Binder would see"}
    for name in filter(lambda name: name and (REPO / name).is_file(), tracked):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    inner = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(inner, "outer_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(folder),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # an index that cannot be reached (PyTorch's CPU wheels, offline) fails at once
        "PIP_RETRIES": "0",
    }
    steps = {"folder": folder, "copy": copy}
    steps["install"] = subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", "-r", "binder/requirements.txt"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    if steps["install"].returncode:
        return steps
    steps["build"] = subprocess.run(
        ["bash", "binder/postBuild"], cwd=copy, env=env, capture_output=True, text=True
    )
    if steps["build"].returncode:
        return steps
    steps["imported"] = subprocess.run(
        [str(bin_dir / "python"), "-c", "import utils; print(utils.__file__)"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    # One epoch: the model of exercise 1, trained once (nbval runs the notebook's two-epoch
    # default).
    steps["run"] = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "papermill",
            "--cwd",
            "notebooks",
            "notebooks/01_clean_training.ipynb",
            str(folder / "out.ipynb"),
            "-p",
            "epochs",
            "1",
            "-p",
            "results_path",
            str(folder / "out.json"),
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    return steps


def test_the_binder_build_steps_succeed_in_a_fresh_environment_and_a_notebook_runs(tmp_path):
    steps = build_in_fresh_environment(tmp_path)
    if "skip" in steps:
        pytest.skip(steps["skip"])
    assert steps["install"].returncode == 0, steps["install"].stderr[-3000:]
    assert steps["build"].returncode == 0, steps["build"].stderr[-3000:]
    assert "street signs generated" in steps["build"].stdout
    assert list((steps["copy"] / ".cache" / "signs").glob("synthetic-20000-*.pt"))
    # the copy's utils package, installed by postBuild
    assert steps["imported"].stdout.startswith(str(steps["copy"]))
    assert steps["run"].returncode == 0, steps["run"].stderr[-3000:]
    assert json.loads((steps["folder"] / "out.json").read_text())["clean_accuracy"] > 0.98


def test_the_teaching_page_links_to_the_demo_app_on_binder():
    teaching = (REPO / "docs" / "site" / "teaching.md").read_text()
    [link] = re.findall(
        r"https://mybinder\.org/v2/gh/[^)\s]*urlpath=voila/render/[^)\s]+", teaching
    )
    path = link.split("urlpath=voila/render/")[1]
    assert (REPO / path).is_file() and path.endswith(".ipynb")
    assert link.startswith("https://mybinder.org/v2/gh/backdoor-lab/backdoor-lab/HEAD?")
