"""HTTP intake: push endpoints for logs (Sherlog batches and Loki push), alert and
change webhooks, and topology. See `core.intake.http`."""

from core.intake.http import create_intake_app, intake_router

__all__ = ["create_intake_app", "intake_router"]
