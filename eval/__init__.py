"""Sherlog eval package."""
