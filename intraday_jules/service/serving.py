"""``ModelHolder``: which model the service serves, re-checked cheaply on every request.

Each ``/ready`` and ``/predict`` calls ``check()``: one registry query for the champion id.
While it is the model already loaded, nothing else happens. When the champion changes (a new
promotion, or the champion retired), the new one is loaded from the ``ModelStore`` with the
live FeatureSpec, so a promotion is served without a restart. A champion that cannot be
served (FeatureSpec or observation shape differs, files missing, registry unreachable) makes
the service not ready, with the reason; the previous model is NOT served in its place, since
the registry no longer names it. A failed load is retried when the champion changes or after
``retry_s`` seconds, not on every request.

``named(model_id)`` gives a session the model it names: the champion, or another model of
the registry loaded the same way (the last few kept).

Error texts may come from the database driver: they are scrubbed of the database URL and its
password (``mask_url``) and of registered secret values before they reach a response or a log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from intraday_jules import __version__
from intraday_jules.agent import ModelBundle, ModelMismatchError, ModelStore, ModelStoreError
from intraday_jules.agent.registry import ModelRecord
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec
from intraday_jules.secrets import redact
from intraday_jules.service.schemas import (
    N_ACTIONS,
    OBS_DIM,
    SERVICE_SYMBOLS,
    ModelInfo,
    Readiness,
)
from intraday_jules.url_masking import mask_url

if TYPE_CHECKING:
    from intraday_jules.settings import Settings

log = logging.getLogger(__name__)
RETRY_S = 10.0
#: Non-champion models kept loaded for sessions that name them.
KEPT_MODELS = 4


@dataclass(frozen=True)
class ServedModel:
    """A loaded champion: the bundle, its registry row and when it was promoted/loaded.

    The policy network is shared by every request and session: ``PolicyStepper`` keeps
    nothing on it (each stepper has its own LSTM state and buffers), so requests run it
    from several threads at once without a lock."""

    bundle: ModelBundle
    record: ModelRecord
    promoted_since: datetime | None
    loaded_at: datetime

    @property
    def id(self) -> str:
        return self.record.id


@dataclass(frozen=True)
class _Failure:
    champion: str | None
    readiness: Readiness
    at: float


class ModelHolder:
    """Loads and keeps the promoted model of ``store`` (thread-safe)."""

    def __init__(self, store: ModelStore, *, live_spec: FeatureSpec = DEFAULT_SPEC,
                 clock: Clock | None = None, retry_s: float = RETRY_S) -> None:
        self.store, self.live_spec, self.retry_s = store, live_spec, retry_s
        self.clock: Clock = clock or system_clock
        self._served: ServedModel | None = None
        self._failure: _Failure | None = None
        self._lock = threading.Lock()
        self._last_reason: str | None = None
        self._others: dict[str, ServedModel] = {}  # models named by sessions, most recent last

    @property
    def served(self) -> ServedModel | None:
        return self._served

    def check(self) -> tuple[Readiness, ServedModel | None]:
        """The readiness now, and the model to serve (None when not ready)."""
        try:
            champion = self.store.champion_id()
        except SQLAlchemyError as exc:
            where = mask_url(self.store.engine.url)
            return self._not_ready(None, f"model registry {where} unavailable: "
                                         f"{self.scrub(exc)}"), None
        served = self._served
        if champion is not None and served is not None and served.id == champion:
            return self._ready(served), served
        with self._lock:
            return self._switch(champion)

    def named(self, model_id: str) -> ServedModel:
        """Model ``model_id`` (promoted or not), for a session that names it: the champion
        when it is that one, else loaded with the live FeatureSpec and kept (the last
        ``KEPT_MODELS``). ``ModelStoreError`` if the registry has no such model,
        ``ModelMismatchError`` (or the load's error) if it cannot be served."""
        served = self._served
        if served is not None and served.id == model_id:
            return served
        with self._lock:
            loaded = self._others.pop(model_id, None) or self._load(model_id)
            self._others[model_id] = loaded
            while len(self._others) > KEPT_MODELS:
                del self._others[next(iter(self._others))]
            return loaded

    def _switch(self, champion: str | None) -> tuple[Readiness, ServedModel | None]:
        served = self._served
        if champion is not None and served is not None and served.id == champion:
            return self._ready(served), served  # another thread loaded it meanwhile
        self._served = None
        if champion is None:
            return self._not_ready(None, "no model has been promoted yet (the promotion gate "
                                         "has not passed any model)"), None
        failure = self._failure
        if (failure is not None and failure.champion == champion
                and time.monotonic() - failure.at < self.retry_s):
            return failure.readiness, None
        try:
            loaded = self._load(champion)
        except Exception as exc:  # any failure to load means: not ready, with the reason
            if not isinstance(exc, ModelMismatchError | ModelStoreError):
                log.debug("loading model %s failed", champion, exc_info=exc)
            readiness = self._not_ready(champion, f"cannot serve model {champion}: "
                                                  f"{self.scrub(exc)}")
            self._failure = _Failure(champion, readiness, time.monotonic())
            return readiness, None
        self._served, self._failure = loaded, None
        log.info("serving model %s (kind %s, FeatureSpec %s, promoted %s)", loaded.id,
                 loaded.record.kind, loaded.record.spec_version, loaded.promoted_since)
        return self._ready(loaded), loaded

    def _load(self, champion: str) -> ServedModel:
        started = time.perf_counter()
        bundle = self.store.load(champion, live_spec=self.live_spec)
        if (bundle.symbols != SERVICE_SYMBOLS or bundle.obs_shape != (OBS_DIM,)
                or bundle.n_actions != N_ACTIONS):
            raise ModelMismatchError(
                f"it trades {list(bundle.symbols)} with observations {bundle.obs_shape} and "
                f"{bundle.n_actions} actions; the service serves {list(SERVICE_SYMBOLS)} with "
                f"({OBS_DIM},) and {N_ACTIONS}")
        record = self.store.get(champion)
        promoted = [r.decided_at for r in self.store.promotion_history(champion)
                    if r.decision == "promoted"]
        log.debug("loaded model %s in %.3f s", champion, time.perf_counter() - started)
        return ServedModel(bundle, record, promoted[-1] if promoted else None, self.clock())

    def _ready(self, served: ServedModel) -> Readiness:
        self._last_reason = None
        return Readiness(ready=True, model_id=served.id,
                         model_spec_version=served.record.spec_version,
                         live_spec_version=self.live_spec.version)

    def _not_ready(self, champion: str | None, reason: str) -> Readiness:
        if reason != self._last_reason:
            log.warning("not ready: %s", reason)
            self._last_reason = reason
        spec_version = None
        if champion is not None:
            try:
                spec_version = self.store.get(champion).spec_version
            except (ModelStoreError, SQLAlchemyError):
                spec_version = None
        return Readiness(ready=False, reason=reason, model_id=champion,
                         model_spec_version=spec_version,
                         live_spec_version=self.live_spec.version)

    def scrub(self, error: BaseException | str) -> str:
        """One line of ``error`` with the registry's database URL and password masked."""
        return scrub_text(str(error), self.store.engine.url.render_as_string(
            hide_password=False))


def scrub_text(text: str, database_url: str | None) -> str:
    """``text``'s first line, without the database URL's password (or the raw URL), and with
    registered secrets redacted; SQLAlchemy's SQL echo and help links are dropped."""
    line = text.strip().splitlines()[0] if text.strip() else text
    if database_url:
        from sqlalchemy.engine import make_url

        line = line.replace(database_url, mask_url(database_url))
        try:
            password = make_url(database_url).password
        except Exception:  # an unparsable URL: nothing more to find in the text
            password = None
        if password:
            line = line.replace(str(password), "***")
    return redact(line)


def build_holder(settings: Settings | None, store: ModelStore | None,
                 live_spec: FeatureSpec | None, torch_threads: int | None
                 ) -> tuple[ModelHolder, bool]:
    """The holder for an app starting up: ``store`` as given, or the ``ModelStore`` of
    ``settings`` (``Settings.from_env()`` when None) without migrating (the service only
    reads the registry). Returns it and whether the engine is ours to dispose."""
    from intraday_jules.db.engine import create_db_engine, normalise_url
    from intraday_jules.observability.logging import configure_logging
    from intraday_jules.secrets import register_secret_value
    from intraday_jules.settings import Settings

    if settings is None and store is None:
        settings = Settings.from_env()
    configure_logging(settings.log_level if settings is not None else "INFO")
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    owned = store is None
    if store is None:
        assert settings is not None
        password = normalise_url(settings.database_url).password
        if password:
            register_secret_value(str(password))  # masked by the log filter from now on
        engine = create_db_engine(settings.database_url, check=False)
        store = ModelStore(settings.models_dir, engine, migrate=False)
    holder = ModelHolder(store, live_spec=live_spec or DEFAULT_SPEC)
    log.info("inference service %s: registry %s, models in %s, live FeatureSpec %s",
             __version__, mask_url(store.engine.url), store.root, holder.live_spec.version)
    return holder, owned


def describe(served: ServedModel, record: ModelRecord | None = None) -> ModelInfo:
    """``GET /model``: registry facts (``record``: a fresh read of the row, so a later
    evaluation shows) plus a summary of training and evaluation metrics."""
    record, bundle = record or served.record, served.bundle
    return ModelInfo(
        id=record.id, kind=record.kind, parent_id=record.parent_id,
        symbols=list(record.symbols), status=record.status, seed=record.seed,
        spec_version=record.spec_version, training_window=record.window.to_dict(),
        created_at=record.created_at, promoted_since=served.promoted_since,
        loaded_at=served.loaded_at, obs_shape=list(bundle.obs_shape),
        n_actions=bundle.n_actions, metrics=metrics_summary(record.metrics))


def metrics_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Training scalars (no learning curve, no transfer report) and, if the model was
    evaluated, its window, seeds and metrics at the reference cost with the baselines'
    total returns."""
    training = {k: v for k, v in metrics.items()
                if k != "evaluation" and isinstance(v, str | int | float | bool)}
    out: dict[str, Any] = {"training": training, "evaluation": None}
    evaluation = metrics.get("evaluation")
    if isinstance(evaluation, Mapping):
        baselines = evaluation.get("baselines") or {}
        out["evaluation"] = {
            "window": evaluation.get("window"), "seeds": evaluation.get("seeds"),
            "action_mode": evaluation.get("action_mode"),
            "cost": (evaluation.get("costs") or {}).get("reference"),
            "model": evaluation.get("model"), "ci95": evaluation.get("ci95"),
            "baselines_total_return": {name: (b or {}).get("total_return")
                                       for name, b in baselines.items()}}
    return out
