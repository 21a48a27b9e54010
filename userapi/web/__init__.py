"""The web view of analyses, served by the User API server itself at /web/.

A person opens an analysis there (the link thamos prints and the `X-Thoth-Search-Ui-Url` header
points at): its live status and log, the locked stack, every justification, the dependency graph
as a picture, the lock files to download, and the difference between two analyses. Templates in
templates/, the page scripts and the vendored graph library in static/ (nothing is fetched from
another site), the routes in routes.py.
"""

from userapi.web.routes import BASE, register

__all__ = ["BASE", "register"]
