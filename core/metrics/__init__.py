"""Metric series: loading cases from CSV, naming rules, robust anomaly detection with onset time."""
