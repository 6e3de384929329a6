from django.urls import path

from ml import api

urlpatterns = [
    path("predict/", api.PredictApi.as_view(), name="api-predict"),
    # Here, not in catalog: creating a listing links its prediction, and proposals
    # are products to try the model on.
    path("products/", api.ProductCollectionApi.as_view(), name="api-products"),
    path("products/proposal/", api.ProposalApi.as_view(), name="api-product-proposal"),
    path(
        "products/proposal/<int:pk>/photo/",
        api.ProposalPhotoApi.as_view(),
        name="api-proposal-photo",
    ),
    path("metrics/", api.MetricsApi.as_view(), name="api-metrics"),
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
