"""Background tasks: work that runs after the response is sent."""

from __future__ import annotations

import functools
from collections.abc import Callable, MutableMapping
from typing import Any

from carboy._callables import run_callable

__all__ = ["BackgroundTasks", "tasks_of"]


class BackgroundTasks:
    """Tasks to run, in order, once the response has been sent.

    Declare a parameter of this type to get the request's tasks::

        @app.post("/signup")
        async def signup(form: Signup, tasks: BackgroundTasks) -> dict[str, str]:
            tasks.add_task(send_welcome_mail, form.email)
            return {"status": "ok"}

    A task may be ``def`` (run in a worker thread) or ``async def``. A task
    that raises does not stop the ones after it; its error is raised once all
    have run, so that the server logs it.
    """

    def __init__(self) -> None:
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``function(*args, **kwargs)`` after the response."""
        self.tasks.append((function, args, kwargs))

    async def run(self) -> None:
        """Run every task, in order."""
        error: BaseException | None = None
        for function, args, kwargs in self.tasks:
            try:
                await run_callable(functools.partial(function, *args, **kwargs))
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error


def tasks_of(scope: MutableMapping[str, Any]) -> BackgroundTasks:
    """Return the background tasks of the request ``scope`` belongs to, made on first use.

    They run after the response is sent, as a handler's ``BackgroundTasks``
    parameter's do; a dependency that needs them only sometimes calls this
    then, instead of declaring the parameter on every request.
    """
    tasks: BackgroundTasks | None = scope.get("carboy.background")
    if tasks is None:
        tasks = scope["carboy.background"] = BackgroundTasks()
    return tasks
