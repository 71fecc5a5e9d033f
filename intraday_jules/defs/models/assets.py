"""``models/*``: NVDA foundation -> dual-ticker transfer -> honest evaluation -> promotion gate.

Each model asset trains on the ingested bars of the bar store and the feature rows
``features/feature_table`` stored for them (train window only; partitions that failed blocking
checks, or have no stored rows, are refused by name), saves into the ModelStore and passes a
small ``TrainedModel`` record downstream; the evaluation reads the validation window's rows.
The promotion asset records the gate's verdict either way; its check ``challenger_passed_gate``
is a WARN so a rejection is visible, not a failed run. The training code imports torch, so each
asset imports it when it runs, not when the code location loads.
"""

import base64
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from intraday_jules.defs.common.keys import FEATURES_KEY, PROMOTED_KEY
from intraday_jules.defs.common.resources import ModelStoreResource
from intraday_jules.defs.models.checks import gate_check_result, gate_check_spec
from intraday_jules.risk import RiskLimits
from intraday_jules.settings import Settings

FOUNDATION_KEY = dg.AssetKey(["models", "nvda_foundation_model"])
DUAL_KEY = dg.AssetKey(["models", "dual_ticker_model"])
EVALUATION_KEY = dg.AssetKey(["models", "model_evaluation"])


def _trained_metadata(model) -> dict:  # type: ignore[no-untyped-def]
    return {"model_id": model.model_id, "steps": model.steps, "wall_s": model.wall_s,
            "steps_per_s": model.steps_per_s,
            "mean_episode_reward": model.mean_episode_reward,
            "train_window": f"{model.splits['train']['start']}..{model.splits['train']['end']}",
            "validation_window": f"{model.splits['validation']['start']}.."
                                 f"{model.splits['validation']['end']}"}


@contextmanager
def _data_refusals() -> Iterator[None]:
    """Data the step refuses (features not stored for a partition, blocked partitions, a
    window too short) fails the step with that message alone, not a traceback."""
    from intraday_jules.agent.data import TrainingDataError
    from intraday_jules.features.coverage import MissingFeaturesError

    try:
        yield
    except (MissingFeaturesError, TrainingDataError) as exc:
        raise dg.Failure(description=str(exc)) from None


def _metrics_target(settings: Settings):  # type: ignore[no-untyped-def]
    from intraday_jules.pipelines.training import MetricsTarget

    return MetricsTarget(settings.pushgateway_url, settings.deployment)


def foundation_model_asset(settings: Settings) -> dg.AssetsDefinition:
    """The foundation asset; its run pushes its training metrics (settings.pushgateway_url)."""

    @dg.asset(key=FOUNDATION_KEY, deps=[FEATURES_KEY], group_name="models", kinds={"pytorch"},
              description="RecurrentPPO (LSTM) on NVDA alone: 13 observations, Discrete(3).")
    def nvda_foundation_model(context: dg.AssetExecutionContext,
                              model_store: ModelStoreResource) -> dg.Output:
        from intraday_jules.pipelines.training import train_foundation_step

        store = model_store.open()
        with _data_refusals():
            model = train_foundation_step(store, model_store.bars(),
                                          steps=model_store.foundation_steps,
                                          seed=model_store.seed,
                                          tensorboard_dir=Path(model_store.tensorboard_dir),
                                          blocked=model_store.blocked(store),
                                          metrics=_metrics_target(settings),
                                    device=settings.device)
        context.log.info("foundation %s trained (%s steps/s)", model.model_id,
                         model.steps_per_s)
        return dg.Output(model, metadata=_trained_metadata(model))

    return nvda_foundation_model


def dual_model_asset(settings: Settings) -> dg.AssetsDefinition:
    """The dual-ticker asset; its run pushes its training metrics (settings.pushgateway_url)."""

    @dg.asset(key=DUAL_KEY, ins={"foundation": dg.AssetIn(FOUNDATION_KEY)},
              deps=[FEATURES_KEY], group_name="models", kinds={"pytorch"},
              description="Transfer of the foundation to NVDA + MSFT: 26 observations, "
                          "Discrete(9); trained on the foundation's train window.")
    def dual_ticker_model(model_store: ModelStoreResource, foundation) -> dg.Output:  # type: ignore[no-untyped-def]
        from intraday_jules.pipelines.training import train_dual_step

        store = model_store.open()
        with _data_refusals():
            model = train_dual_step(store, model_store.bars(), foundation,
                                    steps=model_store.dual_steps, seed=model_store.seed,
                                    tensorboard_dir=Path(model_store.tensorboard_dir),
                                    blocked=model_store.blocked(store),
                                    metrics=_metrics_target(settings),
                                    device=settings.device)
        return dg.Output(model, metadata={**_trained_metadata(model),
                                          "foundation_id": foundation.model_id})

    return dual_ticker_model


@dg.asset(key=EVALUATION_KEY, ins={"model": dg.AssetIn(DUAL_KEY)}, deps=[FEATURES_KEY],
          group_name="models", kinds={"python"},
          description="Walk-forward evaluation on the validation window vs flat, buy-and-hold, "
                      "50/50, random and momentum, at 0x/1x/2x costs over seeds (95% CIs).")
def model_evaluation(model_store: ModelStoreResource, model) -> dg.Output:  # type: ignore[no-untyped-def]
    from intraday_jules.agent.report import equity_plot, markdown_table
    from intraday_jules.pipelines.training import evaluate_step

    store = model_store.open()
    with _data_refusals():
        report = evaluate_step(store, model_store.bars(), model,
                               seeds=model_store.evaluation_seeds,
                               cpcv=model_store.cpcv_budget(),
                               study_lookup=model_store.study_lookup())
    with tempfile.TemporaryDirectory() as tmp:
        png = base64.b64encode(equity_plot(report, Path(tmp) / "equity.png").read_bytes())
    payload = report.to_dict()
    return dg.Output((model, report), metadata={
        "model_id": model.model_id,
        "table": dg.MetadataValue.md(markdown_table(report)),
        "equity_png": dg.MetadataValue.md(
            f"![equity and drawdown](data:image/png;base64,{png.decode('ascii')})"),
        **evaluation_headline(payload["model"]),
        "evaluation": dg.MetadataValue.json(payload),
    })


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def evaluation_headline(model: Mapping[str, float | None]) -> dict[str, float | None]:
    """The model's headline figures as the UI shows them (the JSON keeps the raw values):
    returns in percent, money to the cent, ratios to 2 decimals; ``sharpe`` is null (shown
    as null) on a window too short to annualise, ``sharpe_per_session`` always set."""
    ret = model["total_return"]
    return {"total_return_pct": _rounded(None if ret is None else 100 * ret),
            "pnl_usd": _rounded(model["pnl_usd"]),
            "sharpe": _rounded(model["sharpe"]),
            "sharpe_per_session": _rounded(model.get("sharpe_per_session")),
            "max_drawdown_pct": _rounded(model["max_drawdown_pct"]),
            "break_even_cost_x": _rounded(model.get("break_even_cost_x"))}


def promoted_model_asset(settings: Settings) -> dg.AssetsDefinition:
    """The gate runs against the live risk limits of ``settings`` (drawdown and daily loss
    halts in $, max position per asset, shorts)."""
    limits = RiskLimits.from_settings(settings)

    @dg.asset(key=PROMOTED_KEY, ins={"evaluated": dg.AssetIn(EVALUATION_KEY)},
              group_name="models", kinds={"python"}, check_specs=[gate_check_spec],
              description="The champion the trading job and the inference service load; "
                          "changes only when a challenger passes the gate.")
    def promoted_model(model_store: ModelStoreResource, evaluated) -> dg.MaterializeResult:  # type: ignore[no-untyped-def]
        from intraday_jules.pipelines.training import promotion_step

        model, report = evaluated
        gate = promotion_step(model_store.open(), model, report, limits)
        return dg.MaterializeResult(
            metadata={"champion": gate.champion_after or "none", "challenger": model.model_id,
                      "promoted": gate.promoted, "gate": dg.MetadataValue.md(gate.markdown())},
            check_results=[gate_check_result(gate)])

    return promoted_model
