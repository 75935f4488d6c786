"""Benchmarks: ``python -m bench.run NAME|all`` (``make bench``)."""
