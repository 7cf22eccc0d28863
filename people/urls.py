from django.urls import path

from . import views

urlpatterns = [
    path("people/", views.people_list, name="people_list"),
    path("people/invite/", views.person_invite, name="person_invite"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/deactivate/", views.person_deactivate, name="person_deactivate"),
    path("people/<int:pk>/reactivate/", views.person_reactivate, name="person_reactivate"),
    path(
        "people/<int:pk>/second-factor/",
        views.person_second_factor_reset,
        name="person_second_factor_reset",
    ),
    path("people/<int:pk>/password-link/", views.person_password_link, name="person_password_link"),
    path("people/<int:pk>/request-role/", views.person_role_request, name="person_role_request"),
    path("people/<int:pk>/revoke/<str:role>/", views.person_role_revoke, name="person_role_revoke"),
    path("people/requests/<int:pk>/", views.role_request_detail, name="role_request_detail"),
    path(
        "people/requests/<int:pk>/withdraw/",
        views.role_request_withdraw,
        name="role_request_withdraw",
    ),
]
