"""Sherlog reports package."""
