"""Sherlog bot package."""
