"""Benchmarks: throughput and scale measurements that print tables and write JSON.

Run them with ``gridwatch bench <name>``; see benchmarks/README.md for what each figure
means and the figures measured.
"""
