"""The site's settings, plus the benchmark's floor views (``bench.urls``).

Used only by ``bench/run.py`` (``DJANGO_SETTINGS_MODULE=bench.settings``): the
production URL configuration has no benchmark endpoint, not even behind a switch.
"""

from trial.settings import *  # noqa: F403 - the site as it is, with one change

ROOT_URLCONF = "bench.urls"
