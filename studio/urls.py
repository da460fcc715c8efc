from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from studio import views, views_mood

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # the JavaScript catalog of the active language (static/js/*.js call gettext())
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("studio.urls_pages")),
    path("api/mood/", views_mood.mood_interpret, name="api-mood"),
    path("", include("generation.urls")),
]
