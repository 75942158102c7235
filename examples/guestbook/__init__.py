"""A guestbook: a form with its errors, a flash message and a redirect, in plain HTML.

Run it with ``carboy run --app examples.guestbook.app:app`` from the repository
root, then open http://127.0.0.1:8000/. Entries live in memory and are gone
when the server stops.
"""
