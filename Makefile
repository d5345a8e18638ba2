# The two commands of the README. Each bootstraps what it needs (.venv, packages, node modules).
.PHONY: demo test lint bench

demo:
	bash scripts/bootstrap.sh demo
	.venv/bin/kring demo

test:
	bash scripts/bootstrap.sh test
	.venv/bin/lint-imports
	.venv/bin/python -m pytest

bench:
	bash scripts/bootstrap.sh test
	.venv/bin/python bench/latency.py
