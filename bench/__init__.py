"""Benchmarks, each run as a script (`.venv/bin/python bench/NAME.py`); a package so that they share
`bench._timing` and `bench.load` by their full names."""
