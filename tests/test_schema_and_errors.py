"""The generated OpenAPI schema, the docs page, and one error shape everywhere."""

import pytest
from django.core.management import call_command

API_PATHS = [
    "/api/v1/token/",
    "/api/v1/token/refresh/",
    "/api/v1/token/verify/",
    "/api/v1/token/blacklist/",
    "/api/v1/me/",
    "/api/v1/users/",
    "/api/v1/predict/",
    "/api/v1/products/",
    "/api/v1/products/proposal/",
    "/api/v1/categories/",
    "/api/v1/products/{id}/",
    "/api/v1/products/{id}/photo/",
    "/api/v1/products/proposal/{id}/photo/",
    "/api/v1/listing-imports/",
    "/api/v1/listing-imports/{id}/",
    "/api/v1/listing-imports/{id}/confirm/",
    "/api/v1/metrics/",
    "/api/v1/anomalies/",
    "/api/v1/training-runs/",
    "/api/v1/training-runs/{id}/",
    "/api/v1/model-versions/",
    "/api/v1/model-versions/{id}/activate/",
    "/api/v1/model-versions/rollback/",
    "/api/v1/datasets/reset/",
    "/api/v1/batch-jobs/",
    "/api/v1/batch-jobs/{id}/",
    "/api/v1/batch-jobs/{id}/cancel/",
    "/api/v1/batch-jobs/{id}/resume/",
    "/api/v1/review-items/",
    "/api/v1/review-items/{id}/decide/",
    "/api/v1/review-items/bulk-accept/",
    "/api/v1/taxonomy-migrations/",
    "/api/v1/taxonomy-migrations/{id}/",
    "/api/v1/taxonomy-migrations/{id}/undo/",
    "/api/v1/taxonomy-migrations/{id}/predict/",
    "/api/v1/taxonomy-migrations/{id}/train/",
]


def test_schema_generates_without_warnings(tmp_path):
    # `manage.py spectacular --validate --fail-on-warn` exits non-zero on a warning
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0.3\n")


def test_schema_view_lists_every_endpoint(anonymous_client):
    response = anonymous_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    assert sorted(response.json()["paths"]) == sorted(API_PATHS)


def test_docs_are_served_offline(anonymous_client):
    # The Swagger UI page loads its assets from our static files, never a CDN
    response = anonymous_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    assert "cdn" not in html.lower()


def test_unknown_api_url_is_a_404_in_the_error_shape(anonymous_client):
    response = anonymous_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No such API endpoint.",
            "fields": {},
        }
    }


def test_wrong_method_is_a_405_in_the_error_shape(api_as, seller):
    response = api_as(seller).delete("/api/v1/predict/")
    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "code": "method_not_allowed",
            "message": 'Method "DELETE" not allowed.',
            "fields": {},
        }
    }


def test_malformed_json_is_a_400_in_the_error_shape(api_as, seller):
    response = api_as(seller).generic(
        "POST", "/api/v1/predict/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Basic c2VsbGVyOnBhc3M=", "Token abc"]
)
def test_anything_but_a_valid_bearer_token_is_401(anonymous_client, seller, header):
    # There is no other way in: no session, no basic authentication
    anonymous_client.credentials(HTTP_AUTHORIZATION=header)
    response = anonymous_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert sorted(response.json()["error"]) == ["code", "fields", "message"]


def test_a_web_session_does_not_open_the_api(client_logged_in_as, seller):
    response = client_logged_in_as(seller).get("/api/v1/me/")
    assert response.status_code == 401
