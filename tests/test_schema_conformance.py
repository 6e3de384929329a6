"""Answers conform to the OpenAPI schema where it drifted: ``image: null`` (products
and proposals without a photo) is declared nullable, and a metrics answer (staff's full
one, a seller's summary) matches exactly one shape of the ``Metrics`` oneOf. The whole
API is fuzzed against the schema by schemathesis in CI (tools/schemathesis.sh)."""

import jsonschema
import pytest

from ml.models import ModelVersion
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(anonymous_client) -> dict:
    response = anonymous_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def json_schema(node, components: dict):
    """An OpenAPI 3.0 schema as plain JSON Schema: references resolved, ``nullable``
    as a null type."""
    if isinstance(node, list):
        return [json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    converted = {
        key: json_schema(value, components)
        for key, value in node.items()
        if key not in {"nullable", "readOnly", "writeOnly", "format"}
    }
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def component(schema: dict, name: str) -> dict:
    components = schema["components"]["schemas"]
    return json_schema(components[name], components)


def matches(instance, schema_: dict) -> bool:
    return jsonschema.Draft7Validator(schema_).is_valid(instance)


def test_a_product_without_a_photo_conforms(schema, api_as, seller):
    ProductFactory(seller=seller, category=CategoryFactory(), image="")
    body = api_as(seller).get("/api/v1/products/").json()
    product = body["results"][0]
    assert product["image"] is None
    jsonschema.validate(product, component(schema, "ProductOutput"))


def test_a_proposal_without_a_photo_conforms(schema, api_as, seller):
    ProductFactory(seller=None, category=None, source="import", image="")
    proposal = api_as(seller).get("/api/v1/products/proposal/").json()
    assert proposal["image"] is None
    jsonschema.validate(proposal, component(schema, "ProposalOutput"))


def test_each_metrics_answer_matches_exactly_one_shape(
    schema, api_as, seller, staff_user
):
    ModelVersion.objects.create(name="v1", status=ModelVersion.Status.ACTIVE)
    full = api_as(staff_user).get("/api/v1/metrics/").json()
    summary = api_as(seller).get("/api/v1/metrics/").json()
    shapes = {
        name: component(schema, name) for name in ("MetricsFull", "MetricsSummary")
    }
    assert {name: matches(full, s) for name, s in shapes.items()} == {
        "MetricsFull": True,
        "MetricsSummary": False,
    }
    assert {name: matches(summary, s) for name, s in shapes.items()} == {
        "MetricsFull": False,
        "MetricsSummary": True,
    }
    one_of = component(schema, "Metrics")
    for answer in (full, summary):
        jsonschema.validate(answer, one_of)
