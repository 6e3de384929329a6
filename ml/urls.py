from django.urls import path

from ml import views, views_batch

app_name = "ml"

urlpatterns = [
    path("products/suggestions/", views.suggestions, name="suggestions"),
    path("products/suggestions/model/", views.model_status, name="model_status"),
    path("staff/performance/", views.performance, name="performance"),
    path("staff/training/", views.training, name="training"),
    path(
        "staff/training/<int:pk>/progress/",
        views.training_progress,
        name="training_progress",
    ),
    path("staff/models/", views.model_versions, name="model_versions"),
    path(
        "staff/models/<int:pk>/activate/",
        views.model_version_activate_view,
        name="model_version_activate",
    ),
    path(
        "staff/models/rollback/",
        views.model_version_rollback_view,
        name="model_version_rollback",
    ),
    path("staff/datasets/", views.datasets, name="datasets"),
    path("staff/categories/", views.categories, name="categories"),
    path(
        "staff/alerts/<int:pk>/acknowledge/",
        views.alert_update,
        {"action": "acknowledge"},
        name="alert_acknowledge",
    ),
    path(
        "staff/alerts/<int:pk>/resolve/",
        views.alert_update,
        {"action": "resolve"},
        name="alert_resolve",
    ),
    path(
        "staff/label-reviews/<int:pk>/clear/",
        views.seller_label_review_update,
        {"action": "clear"},
        name="seller_label_review_clear",
    ),
    path(
        "staff/label-reviews/<int:pk>/exclude/",
        views.seller_label_review_update,
        {"action": "exclude"},
        name="seller_label_review_exclude",
    ),
    path("staff/audit/", views.audit, name="audit"),
    path("staff/batch-jobs/", views_batch.batch_jobs, name="batch_jobs"),
    path("staff/batch-jobs/<int:pk>/", views_batch.batch_job, name="batch_job"),
    path(
        "staff/batch-jobs/<int:pk>/progress/",
        views_batch.batch_job_progress_view,
        name="batch_job_progress",
    ),
    path(
        "staff/batch-jobs/<int:pk>/cancel/",
        views_batch.batch_job_update,
        {"action": "cancel"},
        name="batch_job_cancel",
    ),
    path(
        "staff/batch-jobs/<int:pk>/resume/",
        views_batch.batch_job_update,
        {"action": "resume"},
        name="batch_job_resume",
    ),
]
