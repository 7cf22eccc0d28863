"""Project package and the participant core: sites, roles, screening, consent, baseline, audit."""

from .celery import app as celery_app

__all__ = ("celery_app",)
