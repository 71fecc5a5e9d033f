"""The FastAPI inference service over the ``ModelStore``'s promoted model.

- ``app``: ``create_app`` and the module-level ``app`` (``uvicorn intraday_jules.service.app:app``).
- ``schemas``: request/response bodies and their validation (pydantic v2).
- ``serving``: ``ModelHolder`` (loads the champion, hot reload on promotion, readiness).
- ``inference``: ``/predict`` on bars (``LivePolicy``) or observations (``PolicyStepper``).
- ``sessions`` (with ``session_routes``, ``session_schemas``): the stateful ``/sessions`` API,
  one ``LivePolicy`` per client session fed only the new bars.
- ``loadcheck``: run the server in a subprocess and send it a bounded burst, or sessions'
  bars (tests, benchmark).

See docs/service.md.
"""

from intraday_jules.service.app import create_app

__all__ = ["create_app"]
