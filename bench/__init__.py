"""Benchmarks: printed tables, also written to docs/benchmarks.md (``make bench``)."""
