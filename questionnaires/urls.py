from django.urls import path

from . import views

urlpatterns = [
    path(
        "participants/<str:study_id>/questionnaires/<str:visit>/<str:instrument>/",
        views.response_detail,
        name="response_detail",
    ),
    path(
        "participants/<str:study_id>/questionnaires/<str:visit>/<str:instrument>/enter/",
        views.response_enter,
        name="response_enter",
    ),
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("questionnaires/codebook/", views.codebook, name="codebook"),
]
