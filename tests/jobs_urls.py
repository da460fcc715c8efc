"""studio.urls plus the jobs API, for tests, until studio.urls includes generation.urls."""

from django.urls import include, path

from studio.urls import urlpatterns as studio_patterns

_included = any(getattr(p, "app_name", None) == "generation" for p in studio_patterns)
urlpatterns = list(studio_patterns) + ([] if _included else [path("", include("generation.urls"))])
