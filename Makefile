# workbench: the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
# The archive tests run a second time on PostgreSQL. Billing, retention, reports and DIMSE
# and the schemathesis run have not been through a PostgreSQL pass yet: add them here
# once they have.
POSTGRES_TESTS := $(addprefix tests/server/,test_dicomweb.py test_sharing.py test_media.py \
	test_patients.py test_limits.py test_hanging.py test_audit.py test_accounts.py \
	test_access_matrix.py test_durability.py test_workers.py \
	test_hub_identity.py test_rendering_kinds.py test_postgres.py test_db_copy.py test_jobs.py \
	test_annotations.py test_qido_indexes.py test_background_jobs.py)

# Byte-code caches make every server start in the tests seconds faster (some machines set
# PYTHONDONTWRITEBYTECODE; __pycache__ folders are ignored by git).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test install system-test bench lint typecheck imports clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	# an editable install leaves data files out: link the prebuilt JupyterLab extension
	# and put the Jupyter server extension's config where a wheel puts it (docs/jupyter.md)
	cd extensions && ../$(VENV)/bin/jupyter-builder develop --overwrite workbench_jupyter
	install -D -m 644 extensions/jupyter-config/jupyter_server_config.d/workbench_jupyter.json \
		$(VENV)/etc/jupyter/jupyter_server_config.d/workbench_jupyter.json
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Start the workbench on http://127.0.0.1:8042 with the demo data (SQLite + ./data).
run: install
	$(VENV)/bin/workbench serve --demo

## Install what the tests need (Python and system packages) and run the whole suite:
## once on the embedded defaults (SQLite), then the archive tests again on PostgreSQL.
test: install system-test lint typecheck imports
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)
	scripts/with-postgres.sh $(PY) -m pytest -n 2 --dist loadgroup -m "not browser and not corpus" $(POSTGRES_TESTS) $(PYTEST_ARGS)

system-test:
	scripts/system-packages.sh test

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

imports: install
	$(VENV)/bin/lint-imports

## Benchmarks (not tests): print our figures next to Orthanc's, measured in the same run.
bench: install
	scripts/system-packages.sh bench
	$(PY) benchmarks/archive_vs_orthanc.py $(BENCH_ARGS)
	$(PY) benchmarks/dimse_vs_orthanc.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
