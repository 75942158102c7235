"""Django's hello app, for the import-and-build time: one route, one dict.

Settings as in the benchmark's Django app, less the sessions and templates
that its HTML page needs: no database, no contrib apps, the middleware an API
deployment keeps.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-only-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    DATABASES={},
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
)


def hello(request: HttpRequest) -> JsonResponse:
    """Answer with a greeting."""
    return JsonResponse({"message": "Hello, World!"})


urlpatterns = [path("", hello)]

application = get_wsgi_application()
