"""Sherlog chaos package."""
