from django.urls import path

from ml import api, api_batch, api_monitoring

urlpatterns = [
    path("predict/", api.PredictApi.as_view(), name="api-predict"),
    path("metrics/", api_monitoring.MetricsApi.as_view(), name="api-metrics"),
    path("anomalies/", api_monitoring.AnomalyListApi.as_view(), name="api-anomalies"),
    path(
        "training-runs/",
        api.TrainingRunCollectionApi.as_view(),
        name="api-training-runs",
    ),
    path(
        "training-runs/<int:pk>/",
        api.TrainingRunDetailApi.as_view(),
        name="api-training-run",
    ),
    path(
        "model-versions/", api.ModelVersionListApi.as_view(), name="api-model-versions"
    ),
    path(
        "model-versions/rollback/",
        api.ModelVersionRollbackApi.as_view(),
        name="api-model-version-rollback",
    ),
    path(
        "model-versions/<int:pk>/activate/",
        api.ModelVersionActivateApi.as_view(),
        name="api-model-version-activate",
    ),
    path(
        "batch-jobs/", api_batch.BatchJobCollectionApi.as_view(), name="api-batch-jobs"
    ),
    path(
        "batch-jobs/<int:pk>/",
        api_batch.BatchJobDetailApi.as_view(),
        name="api-batch-job",
    ),
    path(
        "batch-jobs/<int:pk>/cancel/",
        api_batch.BatchJobCancelApi.as_view(),
        name="api-batch-job-cancel",
    ),
    path(
        "batch-jobs/<int:pk>/resume/",
        api_batch.BatchJobResumeApi.as_view(),
        name="api-batch-job-resume",
    ),
    path("datasets/reset/", api.DatasetResetApi.as_view(), name="api-dataset-reset"),
]
