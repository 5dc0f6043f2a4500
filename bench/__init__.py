"""Benchmarks for judgebench: judge throughput, audit scale, loop overhead (see NOTES.md).

Run with `make bench` or `python -m bench.run --help`. Speed claims live here, never in
timed tests.
"""
