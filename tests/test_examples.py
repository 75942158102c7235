from __future__ import annotations

from carboy.testing import TestClient
from examples.hello import app


def test_the_demo_home_page_links_to_its_routes() -> None:
    with TestClient(app) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<a href='http://testserver/hello/world'>" in response.text
    assert "<a href='http://testserver/api/status'>" in response.text


def test_the_demo_api_answers() -> None:
    with TestClient(app) as client:
        hello = client.get("/hello/carboy")
        item = client.get("/api/items/12")
        missing = client.get("/api/items/twelve")
        with client.websocket_connect("/ws/echo") as websocket:
            websocket.send_text("ping")
            echoed = websocket.receive_text()

    assert hello.json() == {"message": "Hello, carboy!"}
    assert item.json() == {"id": 12, "square": 144}
    assert missing.status_code == 404
    assert echoed == "ping"
