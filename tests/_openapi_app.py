"""A carboy app that exercises every typed-handler feature, for the OpenAPI contract tests.

`tests/test_openapi_contract.py` validates the document this app serves at
`/openapi.json` and calls every operation with requests schemathesis
generates from it: no input may make a handler fail, and every response must
fit the schema the document gives for its status. So values echoed back go
through response models (pydantic writes integers of any size; orjson would
refuse past 64 bits), and numbers are bounded.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

from carboy import (
    Body,
    Carboy,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    OpenAPIConfig,
    Path,
    Query,
    Router,
    UploadFile,
)
from carboy.security import APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBearer

app = Carboy(
    openapi=OpenAPIConfig(
        title="Contract shop",
        version="1.0.0",
        description="Every typed-handler feature carboy documents.",
        tags=[{"name": "items", "description": "The shop's items."}],
    )
)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class ItemIn(BaseModel):
    """An item as a client sends it."""

    name: str = Field(min_length=1, max_length=50)
    price: float = Field(ge=0, le=1_000_000)
    color: Color = Color.RED
    tags: list[str] = Field(default_factory=list, max_length=5)


class Item(ItemIn):
    """An item as the shop keeps it."""

    id: int


class ItemSummary(BaseModel):
    id: int
    name: str


class Contact(BaseModel):
    name: str
    topics: list[str]


class Signup(BaseModel):
    username: str = Field(min_length=3, max_length=20)
    newsletter: bool = False


class Upload(BaseModel):
    filename: str | None
    size: int
    description: str | None


class Echo(BaseModel):
    value: str


ITEMS = {
    1: Item(id=1, name="Carboy", price=12.5, color=Color.GREEN, tags=["glass"]),
    2: Item(id=2, name="Airlock", price=1.25),
}

bearer = HTTPBearer(bearer_format="opaque", description="Any token works here.")
optional_bearer = HTTPBearer(scheme_name="OptionalBearer", auto_error=False)
api_key = APIKeyHeader("X-API-Key")


@dataclass
class Page:
    offset: int
    limit: int


async def pagination(
    offset: Annotated[int, Query(ge=0, le=1000, description="How many items to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Page:
    return Page(offset, limit)


def request_id(x_request_id: Annotated[str | None, Header(max_length=64)] = None) -> str:
    return x_request_id or "none"


items = Router(prefix="/items", name="items", tags=["items"])


@items.get("/")
async def list_items(
    page: Annotated[Page, Depends(pagination)],
    color: Color | None = None,
    tag: Annotated[list[str], Query(max_length=3)] = [],  # noqa: B006 - pydantic copies defaults
    search: Annotated[
        str | None, Query(alias="q", min_length=1, max_length=20, examples=["carb"])
    ] = None,
) -> list[Item]:
    """List the items.

    Filtered by color, tags and a search in their names, one page at a time.
    """
    found = [
        item
        for item in ITEMS.values()
        if (color is None or item.color is color)
        and all(each in item.tags for each in tag)
        and (search is None or search.lower() in item.name.lower())
    ]
    return found[page.offset : page.offset + page.limit]


@items.get("/{item_id}", responses={404: {"description": "No item has that id."}})
async def read_item(item_id: int) -> Item:
    """Return one item."""
    item = ITEMS.get(item_id)
    if item is None:
        raise HTTPException(404, f"No item has the id {item_id}.")
    return item


@items.get("/{item_id}/label", response_model=None)
async def item_label(item_id: int) -> str:
    """Return an item's label, as plain text."""
    item = ITEMS.get(item_id)
    return f"item {item_id}" if item is None else item.name


@items.post("/", status_code=201)
async def create_item(item: ItemIn, token: Annotated[str, Depends(bearer)]) -> Item:
    """Add an item (not kept: the shop is read-only)."""
    return Item(id=3, **item.model_dump())


@items.put("/{item_id}")
async def replace_item(
    item_id: Annotated[int, Path(ge=1, le=1_000_000)],
    item: ItemIn,
    tracking: Annotated[str, Depends(request_id)],
    note: Annotated[str, Body(max_length=100)] = "",
) -> Item:
    """Replace an item; the body holds the item and a note."""
    return Item(id=item_id, **item.model_dump())


@items.delete("/{item_id}", deprecated=True, dependencies=[Depends(api_key)])
async def delete_item(item_id: int) -> None:
    """Delete an item (not really)."""


admin = Router(prefix="/admin", name="admin", tags=["admin"], dependencies=[Depends(bearer)])


@admin.get("/items", name="list_items", response_model=list[ItemSummary])
async def list_items_admin(page: Annotated[Page, Depends(pagination)]) -> list[Item]:
    """List the items, in short: the response model drops the other fields."""
    return list(ITEMS.values())[page.offset : page.offset + page.limit]


app.include_router(items)
app.include_router(admin)


@app.get("/colors/{color}", operation_id="color_by_name")
async def color_value(color: Color) -> Echo:
    return Echo(value=color.value)


@app.get("/things/{thing_id}")
async def thing(thing_id: uuid.UUID) -> Echo:
    return Echo(value=str(thing_id))


@app.get("/slugs/{slug:slug}/{rest:path}")
async def slug_path(slug: str, rest: str) -> Echo:
    return Echo(value=f"{slug}/{rest}")


@app.get("/whoami")
async def whoami(
    token: Annotated[str | None, Depends(optional_bearer)],
    user_agent: Annotated[str | None, Header(max_length=200)] = None,
    session: Annotated[str | None, Cookie(alias="session-id", max_length=64)] = None,
    legacy: Annotated[
        int | None, Query(ge=0, le=10, deprecated=True, description="Unused.")
    ] = None,
) -> dict[str, bool]:
    """Tell what the request carries."""
    return {"token": token is not None, "agent": user_agent is not None, "session": bool(session)}


@app.get("/keys")
async def keys(
    query_key: Annotated[str, Depends(APIKeyQuery("api_key"))],
    cookie_key: Annotated[str | None, Depends(APIKeyCookie("key", auto_error=False))],
) -> dict[str, int]:
    return {"query": len(query_key), "cookie": len(cookie_key or "")}


@app.post("/contact")
async def contact(
    name: Annotated[str, Form(min_length=1, max_length=50)],
    topics: Annotated[list[str], Form(max_length=5)] = [],  # noqa: B006
) -> Contact:
    """Send a contact form (URL-encoded)."""
    return Contact(name=name, topics=topics)


@app.post("/signup", status_code=201)
async def signup(data: Annotated[Signup, Form()]) -> Signup:
    """Sign up with a form read into a model."""
    return data


@app.post("/files")
async def upload(
    file: Annotated[UploadFile, File()],
    description: Annotated[str | None, Form(max_length=100)] = None,
) -> Upload:
    """Upload a file (multipart)."""
    content = await file.read()
    return Upload(filename=file.filename, size=len(content), description=description)


@app.get("/health", tags=["ops"], summary="Health check")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/internal", include_in_schema=False)
async def internal() -> dict[str, str]:
    return {"internal": "yes"}
