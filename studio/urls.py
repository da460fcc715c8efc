from django.contrib import admin
from django.urls import include, path

from studio import views, views_mood

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("studio.urls_pages")),
    path("api/mood/", views_mood.mood_interpret, name="api-mood"),
    path("", include("generation.urls")),
]
