# Every target creates .venv (and installs everything) on first use.
VENV    := .venv
SITE_VENV := .venv-site
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
UV      := .uv/bin/uv
RUNS    := runs
STUDENT := student
CHAPTERS := $(filter-out notebooks/00_index.ipynb,$(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: help lab test classroom student assignments grade demo site lock run outputs clean-notebooks bench seeds claims pages clean
.DEFAULT_GOAL := help

help:  ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv itself comes from PyPI into .uv/, once.
$(UV):
	python3 -m venv .uv
	.uv/bin/python -m pip install --quiet uv

# .venv holds exactly what uv.lock pins (the versions the tests passed with), the lab's own
# utils package in editable mode, and compiled bytecode; uv installs in parallel.
$(STAMP): uv.lock pyproject.toml requirements.txt requirements-dev.txt requirements-cluster.txt | $(UV)
	$(UV) sync --quiet --frozen --python python3 --all-extras --compile-bytecode
	touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab at the contents page
	$(VENV)/bin/jupyter lab notebooks/00_index.ipynb

test: $(STAMP)  ## style (ruff), unit tests, every notebook executed and compared by nbval, the claims, in two processes
	$(VENV)/bin/ruff check
	$(PYTHON) -m pytest -n 2 --dist loadgroup

classroom: $(STAMP)  ## the classroom kit's slow checks: every student notebook run top to bottom; the website built and checked in a browser
	$(PYTHON) -m pytest -n 2 --dist loadgroup -m classroom tests/test_student_edition.py tests/test_site.py

student: $(STAMP)  ## the student edition: every notebook without its solutions and outputs (and the capstone's starting detector), into student/
	rm -rf $(STUDENT)
	$(VENV)/bin/jupyter nbconvert --config docs/student_edition.py --log-level WARN --output-dir $(STUDENT) notebooks/*.ipynb
	cp notebooks/my_detector.py $(STUDENT)/   # the capstone's starting detector
	@echo "The student edition is in $(STUDENT)/"

assignments: $(STAMP)  ## the graded assignments (Otter-Grader), from assignments/: each one's student notebook and autograder zip, into runs/assignments/
	$(PYTHON) tools/grade_assignments.py build

grade: $(STAMP)  ## grade every notebook in SUBMISSIONS=<folder> with Otter (make assignments first), into runs/assignments/grades.csv
	$(PYTHON) tools/grade_assignments.py grade "$(SUBMISSIONS)"

$(SITE_VENV)/.installed: docs/site/requirements.txt | $(UV)
	$(UV) venv --quiet --python python3 $(SITE_VENV)
	$(UV) pip install --quiet --python $(SITE_VENV)/bin/python -r docs/site/requirements.txt
	touch $@

site: $(SITE_VENV)/.installed  ## the course website (Jupyter Book) from the notebooks as stored, into runs/site/_build/html
	$(SITE_VENV)/bin/python docs/site/build.py

demo: $(STAMP)  ## the live demo: the attack and street-sign panels as a page without code (Voila), at http://localhost:8866
	$(VENV)/bin/voila demo/backdoor_demo.ipynb --port=8866

lock: | $(UV)  ## re-resolve uv.lock (newest versions the ranges allow) and export binder/requirements.txt from it; then make test
	$(UV) lock --upgrade
	$(MAKE) binder/requirements.txt

# What Binder installs: the lock's pins of requirements.txt and what it needs, with PyTorch's
# CPU-only build (no CUDA libraries: Binder has no GPU).
binder/requirements.txt: uv.lock | $(UV)
	{ sed -n '1,/^--extra-index-url/p' $@; \
	  $(UV) export --quiet --frozen --no-hashes --no-header --no-annotate --no-emit-project \
	  | grep -v -E '^(nvidia-|cuda-|triton)'; } > $@.new
	mv $@.new $@

run: $(STAMP)  ## execute every notebook headless with papermill into runs/
	mkdir -p $(RUNS)
	for notebook in $(CHAPTERS); do \
		name=$$(basename $$notebook .ipynb); \
		$(VENV)/bin/papermill --cwd notebooks $$notebook $(RUNS)/$$name.ipynb \
			-p results_path $(CURDIR)/$(RUNS)/$$name.json || exit 1; \
	done
	@echo "Executed notebooks and their results (JSON) are in $(RUNS)/"

outputs: $(STAMP)  ## write the notebooks' generated cells, execute them in place with the tests' thread count, then strip timestamps and widget state (on an idle machine)
	$(MAKE) pages
	cd notebooks && BACKDOOR_LAB_THREADS=$$(../$(PYTHON) -c 'from utils.runtime import REFERENCE_THREADS; print(REFERENCE_THREADS)') \
		../$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1200 $(CHAPTERS:notebooks/%=%)
	$(MAKE) clean-notebooks

clean-notebooks: $(STAMP)  ## strip every notebook's timestamps, widget state and the panels' outputs (cells marked keep_output: false), keeping the other outputs
	$(VENV)/bin/nbstripout --keep-output --keep-count --keep-id notebooks/*.ipynb demo/*.ipynb

bench: $(STAMP)  ## speed against the classic PyTorch MNIST recipe; training on a shared machine; sign data and retrain budgets; time and memory per notebook; a sweep on Dask against a local one; claims and the defense matrix over seeds
	$(PYTHON) benchmarks/clean_training.py
	$(PYTHON) benchmarks/contention.py
	$(PYTHON) benchmarks/street_signs.py
	$(PYTHON) benchmarks/notebook_resources.py
	$(PYTHON) benchmarks/sweep_cluster.py
	$(PYTHON) benchmarks/seeds.py
	$(PYTHON) benchmarks/attack_matrix.py
	$(PYTHON) benchmarks/abl_isolation.py
	$(PYTHON) benchmarks/label_trace.py
	$(PYTHON) benchmarks/solution_ranges.py
	$(PYTHON) benchmarks/art_comparison.py
	$(PYTHON) benchmarks/claims.py
	$(MAKE) pages

seeds: $(STAMP)  ## the course's key figures over seeds 0, 1, 2 (MNIST, dose-response, signs, defenses, the attack-by-defense matrix, ABL's isolation, what the inspections find of Adaptive-Blend, every solution's figures), into docs/results/
	$(PYTHON) benchmarks/seeds.py
	$(PYTHON) benchmarks/attack_matrix.py
	$(PYTHON) benchmarks/abl_isolation.py
	$(PYTHON) benchmarks/label_trace.py
	$(PYTHON) benchmarks/solution_ranges.py
	$(MAKE) pages

claims: $(STAMP)  ## every claim of tests/test_claims.py on figures from an empty cache: seeds 0, 1, 2, one and two threads, narrower vector kernels
	$(PYTHON) benchmarks/claims.py
	$(MAKE) pages

pages: $(STAMP)  ## write what repeats the notebook list (notebooks/contents.toml) and the pages of measured figures (docs/results/)
	$(PYTHON) tools/course_pages.py
	$(PYTHON) tools/results_pages.py

clean:  ## delete the environments, the model cache, runs/ and student/
	rm -rf $(VENV) $(SITE_VENV) .uv $(RUNS) $(STUDENT) .cache
