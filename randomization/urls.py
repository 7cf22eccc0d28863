from django.urls import path

from . import views

urlpatterns = [
    path("participants/<str:study_id>/randomize/", views.randomize, name="randomize"),
    path("participants/<str:study_id>/dispense/", views.dispense, name="dispense"),
    path("participants/<str:study_id>/code-break/", views.code_break, name="code_break"),
    path("randomization/code-breaks/<int:pk>/", views.code_break_result, name="code_break_result"),
    path("randomization/fingerprints/", views.fingerprints, name="list_fingerprints"),
    path("randomization/lists/", views.list_index, name="list_index"),
    path("randomization/lists/new/", views.list_new, name="list_new"),
    path("randomization/lists/<int:pk>/", views.list_detail, name="list_detail"),
    path("randomization/lists/<int:pk>/verify/", views.list_verify, name="list_verify"),
    path("randomization/lists/<int:pk>/activate/", views.list_activate, name="list_activate"),
    path("randomization/lists/<int:pk>/retire/", views.list_retire, name="list_retire"),
    path("randomization/lists/<int:pk>/extend/", views.list_extend, name="list_extend"),
    path("randomization/lists/<int:pk>/list.csv", views.list_csv, name="list_csv"),
    path("randomization/lists/<int:pk>/program.sas", views.list_sas, name="list_sas"),
    path("randomization/lists/<int:pk>/labels.pdf", views.list_labels_pdf, name="list_labels"),
    path(
        "randomization/lists/<int:pk>/code-break-sheets.pdf",
        views.list_envelopes_pdf,
        name="list_envelopes",
    ),
]
