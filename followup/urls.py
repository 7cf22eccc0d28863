from django.urls import path

from . import views

urlpatterns = [
    path("followup/worklist/", views.worklist, name="worklist"),
    path("followup/calls/", views.call_list, name="call_list"),
    path("followup/calls/<int:pk>/", views.call_page, name="call_page"),
    path("followup/calls/<int:pk>/attempt/", views.call_attempt, name="call_attempt"),
    path("followup/calls/<int:pk>/interview/", views.call_interview, name="call_interview"),
    path("followup/visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("followup/visits/<int:pk>/complete/", views.visit_complete, name="visit_complete"),
    path("followup/visits/<int:pk>/missed/", views.visit_missed, name="visit_missed"),
    path("followup/visits/<int:pk>/attempt/", views.visit_attempt, name="visit_attempt"),
    path("followup/visits/<int:pk>/adherence/", views.visit_adherence, name="visit_adherence"),
    path("followup/sae/", views.sae_list, name="sae_list"),
    path("followup/sae/<int:pk>/review/", views.sae_review, name="sae_review"),
    path("participants/<str:study_id>/contact/", views.contact_details, name="contact_details"),
    path("participants/<str:study_id>/status/", views.status_change, name="status_change"),
    path(
        "participants/<str:study_id>/adverse-events/new/",
        views.adverse_event_edit,
        name="adverse_event_new",
    ),
    path(
        "participants/<str:study_id>/adverse-events/<int:pk>/",
        views.adverse_event_edit,
        name="adverse_event_edit",
    ),
]
