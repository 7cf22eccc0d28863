from django.urls import path

from . import views

urlpatterns = [
    path("dsmb/", views.dashboard, name="dsmb_dashboard"),
    path("reports/open/", views.open_report, name="open_report"),
    path("analysis/<str:kind>/refresh/", views.analysis_refresh, name="analysis_refresh"),
    path("analysis/runs/<int:pk>/status/", views.run_status, name="analysis_run_status"),
    path("analysis/runs/<int:pk>/report/", views.report_request, name="report_request"),
    path("reports/<int:pk>/status/", views.report_status, name="report_status"),
    path("reports/<int:pk>/download/", views.report_download, name="report_download"),
    path("exports/", views.exports_page, name="exports"),
    path("exports/<int:pk>/status/", views.export_status, name="export_status"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
]
