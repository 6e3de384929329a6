from django.urls import path

from ml import api, api_monitoring

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
    path("datasets/reset/", api.DatasetResetApi.as_view(), name="api-dataset-reset"),
]
