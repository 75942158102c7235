"""A one-file carboy app: the demo the README serves.

Run it with ``carboy run --app examples.hello:app`` from the repository root.
"""

from __future__ import annotations

from carboy import Carboy, HTMLResponse, Request, Router, WebSocket

app = Carboy()


@app.get("/", response_class=HTMLResponse)
def home(request: Request) -> str:
    hello_url = request.url_for("hello", name="world")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>carboy</title></head>"
        "<body><h1>carboy is running</h1>"
        f"<p>Try <a href='{hello_url}'>{hello_url}</a> or "
        f"<a href='{request.url_for('api:status')}'>the JSON API</a>.</p></body></html>"
    )


@app.get("/hello/{name}")
async def hello(name: str) -> dict[str, str]:
    return {"message": f"Hello, {name}!"}


api = Router(prefix="/api", name="api")


@api.get("/status")
async def status(request: Request) -> dict[str, object]:
    return {"ok": True, "debug": request.app.debug}


@api.get("/items/{item_id:int}")
def item(item_id: int) -> dict[str, int]:
    # A plain def handler: carboy runs it in a worker thread.
    return {"id": item_id, "square": item_id * item_id}


app.include_router(api)


@app.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)
