from django.contrib.auth import views as auth_views
from django.urls import path

from contributors import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/erase/", views.erase_account, name="erase-account"),
    path("profile/consent/", views.consent, name="consent"),
]
