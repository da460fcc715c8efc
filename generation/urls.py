"""The jobs/tracks JSON API and file URLs (included by studio.urls at "")."""

from django.urls import path

from generation import api

app_name = "generation"

urlpatterns = [
    path("api/jobs/", api.jobs, name="api-jobs"),
    path("api/jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("api/jobs/<int:job_id>/cancel/", api.job_cancel, name="api-job-cancel"),
    path("api/tracks/<int:track_id>/", api.track_detail, name="api-track"),
    path("api/tracks/<int:track_id>/files/<str:kind>", api.track_file, name="api-track-file"),
    path("api/shared/<str:token>/", api.shared_track, name="api-shared"),
    path("api/shared/<str:token>/files/<str:kind>", api.shared_file, name="api-shared-file"),
    path("api/midi/inspect/", api.midi_inspect, name="api-midi-inspect"),
]
