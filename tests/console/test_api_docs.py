"""The API docs work offline: /api/docs names no external URL and every asset it loads is served by
the console (from the swagger-ui-bundle-v2 package)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.conftest import Seed, login

EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+", re.IGNORECASE)
LOADED = re.compile(r'(?:src|href)="([^"]+)"')


def test_the_docs_page_names_no_external_url_and_its_assets_load(client: TestClient, seed: Seed) -> None:
    login(client, "viewer")
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert EXTERNAL.findall(page.text) == []
    assets = LOADED.findall(page.text)
    assert {a.rsplit("/", 1)[1] for a in assets} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
    }
    for asset in assets:
        assert asset.startswith("/api/docs/assets/")
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 500
    script = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content
    assert '"validatorUrl": null' in page.text  # no call to the public validator either
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.1")


def test_only_the_pages_own_assets_are_served(client: TestClient, seed: Seed) -> None:
    login(client, "viewer")
    for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py", "nothing.js"):
        assert client.get(f"/api/docs/assets/{name}").status_code == 404
