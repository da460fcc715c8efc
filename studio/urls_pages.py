"""The product pages (included by studio.urls at "")."""

from django.urls import path

from studio import views_evaluation, views_listen, views_repair
from studio import views_pages as v

app_name = "studio"

urlpatterns = [
    path("compose/", v.compose, name="compose"),
    path("jobs/<int:job_id>/", v.job_progress, name="job"),
    path("jobs/<int:job_id>/cancel/", v.job_cancel, name="job-cancel"),
    path("tracks/", v.my_tracks, name="my-tracks"),
    path("tracks/<int:track_id>/", v.track_page, name="track"),
    path("tracks/<int:track_id>/delete/", v.track_delete, name="track-delete"),
    path("tracks/<int:track_id>/visibility/", v.track_visibility, name="track-visibility"),
    path("tracks/<int:track_id>/new-link/", v.track_new_link, name="track-new-link"),
    path("tracks/<int:track_id>/rate/", v.track_rate, name="track-rate"),
    path("tracks/<int:track_id>/report/", v.track_report, name="track-report"),
    path("tracks/<int:track_id>/regenerate/", v.track_regenerate, name="track-regenerate"),
    path("tracks/<int:track_id>/continue/", v.track_continue, name="track-continue"),
    path("tracks/<int:track_id>/transfer/", v.track_transfer, name="track-transfer"),
    path("tracks/<int:track_id>/infill/", views_repair.track_infill, name="track-infill"),
    path("tracks/<int:track_id>/harmonize/", views_repair.track_harmonize,
         name="track-harmonize"),
    path("s/<str:token>/", v.shared_track, name="shared"),
    path("s/<str:token>/rate/", v.shared_rate, name="shared-rate"),
    path("gallery/", v.gallery, name="gallery"),
    path("moderation/", v.moderation, name="moderation"),
    path("moderation/<int:track_id>/", v.moderation_action, name="moderation-action"),
    path("evaluation/", views_evaluation.evaluation_dashboard, name="evaluation"),
    path("evaluation/ratings.csv", views_evaluation.evaluation_export, name="evaluation-export"),
    path("listen/", views_listen.listen_home, name="listen"),
    path("listen/start/", views_listen.listen_start, name="listen-start"),
    path("listen/now/", views_listen.listen_step, name="listen-step"),
    path("listen/stop/", views_listen.listen_stop, name="listen-stop"),
    path("listen/done/", views_listen.listen_done, name="listen-done"),
    path("listen/audio/<str:token>", views_listen.listen_audio, name="listen-audio"),
]
