"""The interactive API docs page: Swagger UI, served by the app itself, offline.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package, a
dependency of carboy, so the page needs no CDN and works with no network. The
page holds no inline script or style: ``init.js``, a static asset, reads the
document's URL from the page's ``data-openapi-url`` attribute. The page is a
``BuiltinPage``, served under carboy's strict Content-Security-Policy (the
``builtin_pages_content_security_policy`` setting), and its script elements
carry the request's nonce, which that policy requires.

Swagger UI is licensed under the Apache License 2.0; the page says so in a
comment and links the license text, served at ``<docs_url>/assets/LICENSE``
from the package's metadata.

``OpenAPIConfig.install`` adds the routes; ``OpenAPIConfig(docs_url=...)``
moves or turns off the page.
"""

from __future__ import annotations

import functools
from html import escape
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from carboy.exceptions import HTTPException, ImproperlyConfigured
from carboy.middleware.security import BuiltinPage, csp_nonce
from carboy.responses import PlainTextResponse, Response

if TYPE_CHECKING:
    from carboy.openapi_config import OpenAPIConfig
    from carboy.requests import Request

__all__ = ["asset_response", "docs_page_response"]

_PACKAGE = "swagger-ui-bundle-v2"
_MODULE = "swagger_ui_bundle"
# The asset names carry no version: a day's caching, then revalidation by
# ETag and Last-Modified, keeps an upgraded Swagger UI from being stale long.
_CACHE_CONTROL = "public, max-age=86400"

# What the page may load, by the name in its URL: Swagger UI's own files...
_VENDOR_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-16x16.png": "image/png",
    "favicon-32x32.png": "image/png",
}
# ...and carboy's initializer. Every option is fixed here; the validator badge
# is off, as it would send the document's URL to validator.swagger.io.
_INIT_JS = """\
"use strict";
(function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    domNode: node,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
"""


class _SwaggerPage(BuiltinPage):
    # Swagger UI's stylesheet draws its icons from data: URLs.
    data_images = True


def docs_page_response(request: Request, config: OpenAPIConfig) -> BuiltinPage:
    """Return the docs page of the document at ``config.openapi_url``.

    Its asset and document URLs are paths on the same host, under the
    request's ``root_path`` when the app is served under a prefix.

    Raises:
        ImproperlyConfigured: when the swagger-ui-bundle-v2 package is missing.
    """
    version = _vendor_dir().name.removeprefix("swagger-ui-")
    root = request.scope.get("root_path", "")
    assets = escape(f"{root}{(config.docs_url or '').rstrip('/')}/assets/")
    document_url = escape(f"{root}{config.openapi_url or ''}")
    title = escape(config.title)
    nonce = csp_nonce(request)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: docs</title>
<!-- Swagger UI {escape(version)}, Apache License 2.0: {assets}LICENSE -->
<link rel="stylesheet" href="{assets}swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="{assets}favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{document_url}"></div>
<script src="{assets}swagger-ui-bundle.js" nonce="{nonce}"></script>
<script src="{assets}init.js" nonce="{nonce}"></script>
</body>
</html>
"""
    return _SwaggerPage(page)


async def asset_response(name: str) -> Response:
    """Return the docs page's asset called ``name``, if it is one; else raise 404.

    Only Swagger UI's stylesheet, scripts and icons, carboy's initializer and
    the license are served; no other name reaches the file system.

    Raises:
        HTTPException: 404, for any other name.
        ImproperlyConfigured: when the swagger-ui-bundle-v2 package is missing.
    """
    headers = {"Cache-Control": _CACHE_CONTROL}
    media_type = _VENDOR_FILES.get(name)
    if media_type is not None:
        from carboy._fileresponse import FileResponse

        return FileResponse(_vendor_dir() / name, headers=headers, media_type=media_type)
    if name == "init.js":
        return Response(_INIT_JS, headers=headers, media_type="text/javascript")
    if name == "LICENSE":
        return PlainTextResponse(_license_text(), headers=headers)
    raise HTTPException(404, "The docs page has no asset of that name.")


@functools.cache
def _vendor_dir() -> Path:
    """Return the folder of Swagger UI's files in the installed package."""
    spec = find_spec(_MODULE)
    if spec is None or spec.origin is None:
        raise ImproperlyConfigured(
            f"The API docs page serves Swagger UI from the {_PACKAGE} package, which is not "
            f"installed. Install it (pip install {_PACKAGE}), or turn the page off with "
            "OpenAPIConfig(docs_url=None)."
        )
    # One folder per bundled version, such as vendor/swagger-ui-5.31.0.
    found = sorted((Path(spec.origin).parent / "vendor").glob("swagger-ui-*"))
    if not found:
        raise ImproperlyConfigured(
            f"The {_PACKAGE} package holds no vendor/swagger-ui-* folder. Reinstall it "
            f"(pip install --force-reinstall {_PACKAGE})."
        )
    return found[-1]


@functools.cache
def _license_text() -> str:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(_PACKAGE)
    except PackageNotFoundError:
        raise HTTPException(404, "The docs page has no asset of that name.") from None
    # Core metadata 2.4 keeps license files under licenses/; older, at the top.
    for path in ("licenses/LICENSE", "LICENSE", "LICENSE.txt"):
        text = dist.read_text(path)
        if text:
            return text
    raise HTTPException(404, "The docs page has no asset of that name.")
