"""The web UI: server-rendered pages for commissioners (their whole work), and read-only pages
for providers and auditors beside their API and PDFs. Jinja templates, HTMX 2 for quicker
actions (every page works without JavaScript), Babel for Danish, Norwegian and English.

Each screen's controller is a module here calling the same services as the JSON API;
`route_handlers()` lists them all for `api.app.create_app`.
"""
