"""tools/parallel_install.py: pip's report read back, the packages split by size, every pip's failure passed on."""

import importlib.util
import json
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "parallel_install.py"
spec = importlib.util.spec_from_file_location("parallel_install", TOOL)
parallel_install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parallel_install)


def entry(name: str, version: str, url: str) -> dict:
    return {"metadata": {"name": name, "version": version}, "download_info": {"url": url}}


def test_wheels_on_disk_are_weighed_and_downloads_are_not(tmp_path):
    wheel = tmp_path / "big pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"x" * 300)
    report = {"install": [entry("big-pkg", "1.0", wheel.as_uri()),
                          entry("small", "2.0", "https://files.example.org/small-2.0-py3-none-any.whl")]}
    assert parallel_install.packages(report) == [("big-pkg==1.0", 300), ("small==2.0", None)]


def test_a_package_asked_for_by_its_address_is_installed_from_there():
    url = "https://example.org/wheels/tool-0.1-py3-none-any.whl"
    report = {"install": [{**entry("tool", "0.1", url), "is_direct": True}]}
    assert parallel_install.packages(report) == [(f"tool @ {url}", None)]


def test_groups_have_about_the_same_size_and_hold_every_package_once():
    listed = [("a==1", 500), ("b==1", 400), ("c==1", 300), ("d==1", 200), ("e==1", 100), ("f==1", None)]
    groups = parallel_install.split(listed, 2)
    assert sorted(name for group in groups for name in group) == sorted(name for name, _ in listed)
    sizes = dict(listed, **{"f==1": 300})     # a download counts as the mean size of the wheels on disk
    assert sorted(sum(sizes[name] for name in group) for group in groups) == [900, 900]


def test_there_are_never_more_groups_than_packages():
    assert parallel_install.split([("a==1", 10)], 4) == [["a==1"]]


def test_a_failed_pip_fails_the_install(tmp_path, monkeypatch):
    class Pip:
        def __init__(self, command):
            self.requirements = Path(command[command.index("-r") + 1]).read_text()

        def wait(self):
            return 1 if "broken" in self.requirements else 0

    monkeypatch.setattr(parallel_install.subprocess, "Popen", Pip)
    assert parallel_install.install([["fine==1"], ["broken==1"]], quiet=True) == 1
    assert parallel_install.install([["fine==1"]], quiet=True) == 0


def test_a_report_with_nothing_to_install_runs_no_pip(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel_install.subprocess, "Popen", lambda command: pytest.fail("pip was started"))
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"install": []}))
    assert parallel_install.main([str(report)]) == 0


def test_zero_processes_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parallel_install.main([str(tmp_path / "report.json"), "--processes", "0"])
    assert "--processes must be at least 1, got 0" in capsys.readouterr().err


def test_the_makefile_installs_through_it():
    makefile = (TOOL.parent.parent / "Makefile").read_text()
    assert "--dry-run --report $(VENV)/install-report.json" in makefile
    assert "tools/parallel_install.py --quiet $(VENV)/install-report.json" in makefile
