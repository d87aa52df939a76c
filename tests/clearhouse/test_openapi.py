"""Each route's OpenAPI responses list the errors it can really answer, and no others.

schemathesis (tests/test_api_schema.py) fails a route that answers a status its schema does
not list; these fail a route that lists one it cannot answer.
"""

import uuid

import pytest
from clearing import clearance_body
from factories import promote, sign_up

from clearhouse.app import create_app
from clearhouse.settings import Settings

SCHEMA = create_app(Settings()).openapi()

# Every route may answer 400: a Host it does not serve (clearhouse/edge.py).
EXPECTED_STATUSES = {
    ("get", "/healthz"): {"400", "200"},
    ("get", "/.well-known/jwks.json"): {"400", "200"},
    # Admins only (clearhouse/metrics.py); an API key is refused even an admin's.
    ("get", "/metrics"): {"200", "400", "401", "403", "429", "503"},
    # 503 wherever a database session is opened: the database busy past the wait allowed.
    ("post", "/v1/receipts/verify"): {"200", "400", "413", "422", "503"},
    # No 409: a taken address gets the same answer as a new one.
    ("post", "/v1/accounts"): {"202", "400", "413", "422", "429", "503"},
    ("get", "/v1/accounts/verify-email"): {"200", "303", "400", "503"},
    ("post", "/v1/auth/token"): {"200", "400", "401", "413", "422", "429", "503"},
    ("get", "/v1/accounts/me"): {"400", "200", "401", "403", "429", "503"},
    ("get", "/v1/assets"): {"200", "400", "401", "403", "429", "503"},
    ("get", "/v1/assets/{asset_id}"): {"400", "200", "401", "403", "404", "429", "503"},
    # 403 only for an API key without `assets:write`: an owner revokes whatever their role is.
    ("post", "/v1/grants/{grant_id}/revoke"): {
        *("200", "400", "401", "403", "404", "409", "413", "422", "429", "503"),
    },
    ("get", "/v1/likeness/conflicts/{conflict_id}"): {
        "400",
        "200",
        "401",
        "403",
        "404",
        "429",
        "503",
    },
    # JSON, or the same JSON beside input media: the media errors and a busy decoder too.
    # 402: a cleared request that costs more than the requester's credits.
    ("post", "/v1/clearances"): {
        *("201", "400", "401", "402", "403", "413", "415", "422", "429", "503"),
    },
    ("post", "/v1/clearances/{clearance_id}/output-check"): {
        *("200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"),
    },
    # No media: no 415, and no decoder to be busy (503 is the rate limiter's).
    ("post", "/v1/generations"): {
        *("201", "400", "401", "402", "403", "413", "422", "429", "503"),
    },
    # Stripe's: no credentials, only its signature (400); 503 with no webhook secret.
    ("post", "/v1/stripe/webhook"): {"200", "400", "503"},
    # 502: Stripe refused or did not answer; 503: Stripe is off here.
    ("post", "/v1/credits/purchases"): {
        *("201", "400", "401", "403", "413", "422", "429", "502", "503"),
    },
    ("get", "/v1/credits/purchases/{purchase_id}"): {
        "400",
        "200",
        "401",
        "403",
        "404",
        "429",
        "503",
    },
    ("get", "/v1/generations/{generation_id}/video"): {
        *("400", "200", "401", "403", "404", "409", "410", "429", "503"),
    },
    # Its members' in every role (403: a key without `assets:read`); anyone else's is a 404.
    ("get", "/v1/organisations/{organisation_id}/audit"): {
        *("200", "400", "401", "403", "404", "429", "503"),
    },
    # An organisation-held asset's log is its members' too: the same answers as the owner's.
    ("get", "/v1/assets/{asset_id}/audit"): {
        *("200", "400", "401", "403", "404", "429", "503"),
    },
    # Public: anyone holding a clip asks, with no credentials.
    ("get", "/v1/generations/{generation_id}/status"): {"400", "200", "404", "503"},
}


def _operations():
    for path, methods in SCHEMA["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


@pytest.mark.parametrize(
    ("method", "path"), list(EXPECTED_STATUSES), ids=[f"{m} {p}" for m, p in EXPECTED_STATUSES]
)
def test_a_route_lists_exactly_the_statuses_it_can_answer(method, path):
    assert set(SCHEMA["paths"][path][method]["responses"]) == EXPECTED_STATUSES[(method, path)]


def test_each_error_response_names_its_problem_types_and_retry_after_where_sent():
    responses = SCHEMA["paths"]["/v1/likeness/scan"]["post"]["responses"]
    assert "unsupported-media (Unsupported media type)" in responses["415"]["description"]
    assert "media-busy (" in responses["503"]["description"]
    assert "rate-limiter-unavailable (" in responses["503"]["description"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "database-busy (" in responses["503"]["description"]
    conflict = SCHEMA["paths"]["/v1/grants/{grant_id}/revoke"]["post"]["responses"]["409"]
    assert conflict["description"].endswith("Problem types: grant-revoked (Grant already revoked).")


def _request(method: str, path: str, operation: dict) -> dict:
    """The simplest request to an operation: an unknown id in the path, an empty body."""
    url = path
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            is_int = parameter["schema"].get("type") == "integer"
            url = url.replace(f"{{{parameter['name']}}}", "1" if is_int else str(uuid.uuid4()))
    request = {"method": method.upper(), "url": url}
    content = operation.get("requestBody", {}).get("content", {})
    if path == "/v1/clearances":
        # Its caller is found in the route's one hand-off to the thread pool, after the body
        # is read: a body it can read reaches the key's scope check.
        request["json"] = clearance_body("a lighthouse at dawn")
    elif "application/json" in content:
        request["json"] = {}
    elif "multipart/form-data" in content:
        field = next(iter(content["multipart/form-data"]["schema"]["properties"]))
        request["files"] = {field: ("upload.bin", b"not an image", "application/octet-stream")}
    elif content:
        request["data"] = {}
    return request


def test_a_route_lists_401_exactly_where_it_refuses_a_caller_without_credentials(client):
    for method, path, operation in _operations():
        if path == "/v1/auth/token":
            continue  # 401 there is a wrong password, not missing credentials
        response = client.request(**_request(method, path, operation))
        lists_401 = "401" in operation["responses"]
        assert (response.status_code == 401) == lists_401, (method, path, response.text)
        assert ("security" in operation) == lists_401, (method, path)


def test_a_route_lists_403_exactly_where_some_role_or_key_is_refused(client, session):
    callers = [sign_up(client), sign_up(client, role="creator")]
    callers += [promote(session, sign_up(client), role) for role in ("moderator", "admin")]
    headers = [caller.headers for caller in callers]
    # Two keys with one scope each, whose routes do not overlap: on every route that takes a
    # key, one of them lacks the scope.
    for scope in ("clearance", "account:read"):
        key = client.post(
            "/v1/api-keys", headers=callers[0].headers, json={"name": scope, "scopes": [scope]}
        )
        headers.append({"X-API-Key": key.json()["secret"]})
    # Signing out ends the callers' tokens: that route goes last.
    last = "/v1/accounts/me/sign-out"
    for method, path, operation in sorted(_operations(), key=lambda op: op[1] == last):
        statuses = {
            client.request(**_request(method, path, operation), headers=caller).status_code
            for caller in headers
        }
        assert (403 in statuses) == ("403" in operation["responses"]), (method, path, statuses)
