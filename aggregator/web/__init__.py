"""The operator web UI and JSON/Open311 API, served by the aggregator (FastAPI).

``app.py`` builds the app (:func:`aggregator.web.app.create_app`), ``deps.py`` holds the
request dependencies (database session, current user, roles, CSRF, templates),
``auth.py`` passwords, sessions and API tokens, ``api/`` one router per resource,
``pages/`` the server-rendered pages.
"""
