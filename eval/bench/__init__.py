"""Benchmarks: Sherlog against peers measured side by side in the same run (`make bench`)."""
