"""The site's URLs and the two floors the benchmark measures pages against."""

from django.urls import path

from trial.urls import urlpatterns as site_urlpatterns

from . import views

urlpatterns = [
    path("bench/floor/", views.floor),
    path("bench/floor-insert/", views.floor_insert),
    *site_urlpatterns,
]
