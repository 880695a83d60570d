"""/openapi.json describes exactly the router's REST API, from the parsers' own rules; /docs serves
Swagger UI from this server (no CDN) under the site's CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import schemas
from app.api_keys import parse_key_request
from tests.support.apps import make_settings
from web.app import create_app
from web.headers import CSP
from web.openapi import NOT_IN_SPEC, OPERATIONS, build_spec


def _outside_spec(path: str) -> bool:
    return path in NOT_IN_SPEC or any(p.endswith("/") and p != "/" and path.startswith(p) for p in NOT_IN_SPEC)


def test_the_spec_lists_every_route_of_the_router_and_nothing_else(tmp_path: Path, sqlite_url: str,
                                                                    redis_url: str) -> None:
    app = create_app(make_settings(tmp_path, sqlite_url, redis_url))
    routed = {(r.method, r.resource.canonical) for r in app.router.routes()
              if r.method != "HEAD" and r.resource is not None and not _outside_spec(r.resource.canonical)}
    assert routed == set(OPERATIONS)
    spec = build_spec()
    assert spec["openapi"] == "3.1.0"
    assert {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops} == routed


def test_every_operation_documents_its_answers_and_auth() -> None:
    spec = build_spec()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"]["name"] == "X-MBX-APIKEY" and "signature" in schemes["apiKey"]["description"]
    assert schemes["bearerAuth"]["scheme"] == "bearer" and schemes["csrfToken"]["name"] == "X-CSRF-Token"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert any(s.startswith("2") for s in op["responses"]), (method, path)
            assert "400" in op["responses"], (method, path)
            if op["security"]:
                assert "401" in op["responses"], (method, path)


BODIES: list[tuple[dict[str, Any], Any]] = [
    (schemas.ORDER_BODY, lambda b: schemas.parse_order(b, "x")),
    (schemas.OCO_BODY, lambda b: schemas.parse_oco(b, "x")),
    (schemas.REPLACE_BODY, lambda b: schemas.parse_replace(b, "x")),
    (schemas.REGISTER_BODY, schemas.parse_register),
    (schemas.LOGIN_BODY, schemas.parse_login),
    (schemas.EXCHANGE_KEY_BODY, schemas.parse_exchange_key),
    (schemas.CFD_OPEN_BODY, schemas.parse_cfd_open),
    (schemas.CFD_AMEND_BODY, schemas.parse_cfd_amend),
    (schemas.CFD_TRANSFER_BODY, schemas.parse_cfd_transfer),
    (OPERATIONS[("POST", "/api/account/api-keys")].body, lambda b: parse_key_request(b, 0)),
]


@pytest.mark.parametrize(("schema", "parse"), BODIES)
def test_each_body_schema_allows_what_its_parser_allows(schema: dict[str, Any], parse: Any) -> None:
    """A field the schema names is never refused as unknown; one it does not name always is."""
    assert schema["additionalProperties"] is False
    for name in schema["properties"]:
        try:
            parse({name: None})
        except schemas.SchemaError as exc:
            assert "unknown field" not in exc.message, name
    with pytest.raises(schemas.SchemaError, match="unknown field 'nope'"):
        parse({"nope": "1"})


async def test_openapi_json_and_the_docs_page_are_served(client: Any) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert (await resp.json())["paths"].keys() == build_spec()["paths"].keys()
    page = await client.get("/docs")
    assert page.status == 200 and page.headers["Content-Security-Policy"] == CSP
    html = await page.text()
    assert "<script>" not in html and "https://" not in html
    for src, kind in (("/static/vendor/swagger-ui-bundle.js", "text/javascript"),
                      ("/static/vendor/swagger-ui.css", "text/css"), ("/static/js/docs.js", "")):
        assert src in html
        asset = await client.get(src)
        assert asset.status == 200, src
        assert kind in asset.content_type
