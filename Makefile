# Every target creates .venv (and installs everything) on first use.
VENV    := .venv
SITE_VENV := .venv-site
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
RUNS    := runs
STUDENT := student

.PHONY: lab test classroom student demo site pins run outputs bench seeds claims clean

# Installed at the versions binder/requirements.txt pins (those the tests passed with), so
# that the tests here and a Binder build run the same packages. A current pip unpacks them
# faster than the one venv brings. pip resolves once (--dry-run --report), then
# tools/parallel_install.py unpacks what it chose in one pip process per core (pip unpacks on
# one). The bytecode that every process imports is compiled afterwards on all cores. Of what
# it installs, only a test file of PyTorch's, written for a newer Python, failed to compile
# here: hence `|| true`.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml binder/requirements.txt tools/parallel_install.py
	python3 -m venv --upgrade-deps $(VENV)
	grep -v '^-' binder/requirements.txt > $(VENV)/tested-versions.txt
	$(PYTHON) -m pip install --quiet --dry-run --report $(VENV)/install-report.json -r requirements-dev.txt -c $(VENV)/tested-versions.txt
	$(PYTHON) tools/parallel_install.py --quiet $(VENV)/install-report.json
	$(PYTHON) -m pip install --quiet --quiet --no-deps -e .
	$(PYTHON) -m compileall -qq -j 0 $(VENV)/lib || true
	touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab at the contents page
	$(VENV)/bin/jupyter lab notebooks/00_index.ipynb

test: $(STAMP)  ## unit tests, then every notebook executed and compared by nbval
	$(PYTHON) -m pytest

classroom: $(STAMP)  ## the classroom kit's slow checks: every student notebook run top to bottom; the website built and checked in a browser
	$(PYTHON) -m pytest -m classroom tests/test_student_edition.py tests/test_site.py

student: $(STAMP)  ## the student edition: every notebook without its solutions and outputs, into student/
	rm -rf $(STUDENT)
	$(VENV)/bin/jupyter nbconvert --config docs/student_edition.py --log-level WARN --output-dir $(STUDENT) notebooks/*.ipynb
	@echo "The student edition is in $(STUDENT)/"

$(SITE_VENV)/.installed: docs/site/requirements.txt
	python3 -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/python -m pip install --quiet -r docs/site/requirements.txt
	touch $@

site: $(SITE_VENV)/.installed  ## the course website (Jupyter Book) from the notebooks as stored, into runs/site/_build/html
	$(SITE_VENV)/bin/python docs/site/build.py

demo: $(STAMP)  ## the live demo: the attack and street-sign panels as a page without code (Voila), at http://localhost:8866
	$(VENV)/bin/voila demo/backdoor_demo.ipynb --port=8866

pins: $(STAMP)  ## pin binder/requirements.txt to the versions in .venv (after upgrading them there and passing the tests)
	$(PYTHON) binder/pin_versions.py

run: $(STAMP)  ## execute every notebook headless with papermill into runs/
	mkdir -p $(RUNS)
	for notebook in notebooks/0[1-9]_*.ipynb; do \
		name=$$(basename $$notebook .ipynb); \
		$(VENV)/bin/papermill --cwd notebooks $$notebook $(RUNS)/$$name.ipynb \
			-p results_path $(CURDIR)/$(RUNS)/$$name.json || exit 1; \
	done
	@echo "Executed notebooks and their results (JSON) are in $(RUNS)/"

outputs: $(STAMP)  ## execute the committed notebooks in place, with the tests' thread count (utils.runtime.REFERENCE_THREADS; on an idle machine: the outputs keep the training times)
	cd notebooks && BACKDOOR_LAB_THREADS=$$(../$(PYTHON) -c 'from utils.runtime import REFERENCE_THREADS; print(REFERENCE_THREADS)') \
		../$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1200 0[1-9]_*.ipynb

bench: $(STAMP)  ## the install in one pip process against several; speed against the classic PyTorch MNIST recipe; training on a shared machine; sign data and retrain budgets; time and memory per notebook; a sweep on Dask against a local one; claims and the defense matrix over seeds
	$(PYTHON) benchmarks/install_time.py
	$(PYTHON) benchmarks/clean_training.py
	$(PYTHON) benchmarks/contention.py
	$(PYTHON) benchmarks/street_signs.py
	$(PYTHON) benchmarks/notebook_resources.py
	$(PYTHON) benchmarks/sweep_cluster.py
	$(PYTHON) benchmarks/seeds.py
	$(PYTHON) benchmarks/attack_matrix.py
	$(PYTHON) benchmarks/art_comparison.py
	$(PYTHON) benchmarks/claims.py

seeds: $(STAMP)  ## the course's key figures over seeds 0, 1, 2 (MNIST, dose-response, signs, defenses, the attack-by-defense matrix), into docs/results/
	$(PYTHON) benchmarks/seeds.py
	$(PYTHON) benchmarks/attack_matrix.py

claims: $(STAMP)  ## every claim of tests/test_claims.py on figures from an empty cache: seeds 0, 1, 2, one and two threads, narrower vector kernels
	$(PYTHON) benchmarks/claims.py

clean:
	rm -rf $(VENV) $(SITE_VENV) $(RUNS) $(STUDENT) .cache
