"""Admin views of jobs, tracks, worker heartbeats and API tokens (read-mostly: state
changes belong to generation.services)."""

from django.contrib import admin

from generation.models import ApiToken, Job, Track, WorkerHeartbeat


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "kind",
        "status",
        "progress",
        "attempts",
        "worker_id",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("owner__username", "worker_id")
    readonly_fields = (
        "status",
        "progress",
        "stage",
        "attempts",
        "worker_id",
        "heartbeat_at",
        "started_at",
        "finished_at",
        "last_sent_at",
        "stage_seconds",
    )


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "owner",
        "visibility",
        "model_version",
        "job",
        "variant",
        "created_at",
    )
    list_filter = ("visibility", "model_version")
    search_fields = ("title", "owner__username")
    readonly_fields = ("share_token", "files", "size_bytes", "job", "variant")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "last_beat", "busy", "job_id", "started_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "last_used_at")
    readonly_fields = ("digest",)
