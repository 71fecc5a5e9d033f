"""``models/sweep_report``: one study's report (Markdown and the Optuna figures as PNGs), one
dynamic partition per study. ``sweep_job``'s last step adds the study's partition and records
the report; materializing the asset again re-renders it from the study as it stands."""

import base64
from pathlib import Path
from typing import Any

import dagster as dg

from intraday_jules.settings import Settings

SWEEP_REPORT_KEY = dg.AssetKey(["models", "sweep_report"])
STUDY_PARTITIONS = "sweep_study"
SWEEP_STUDIES = dg.DynamicPartitionsDefinition(name=STUDY_PARTITIONS)


def report_dir(settings: Settings, study: str) -> Path:
    return settings.home / "sweeps" / study


def _png_markdown(path: Path) -> dg.MetadataValue:
    """The PNG inline, so the Dagster UI shows it without access to the files."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{data})")


def report_metadata(settings: Settings, study: str) -> dict[str, Any]:
    """Render the study's report (files under ``$INTRADAY_JULES_HOME/sweeps/<study>``) and
    return it as materialization metadata: the Markdown, each PNG, the best trial."""
    from intraday_jules.pipelines.sweep import render_sweep_report

    out_dir = report_dir(settings, study)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = render_sweep_report(settings, study, out_dir)
    meta: dict[str, Any] = {"report": dg.MetadataValue.md(report.markdown),
                            "report_dir": dg.MetadataValue.path(str(out_dir)),
                            "best": dg.MetadataValue.json(report.best or {})}
    for image in report.images:
        meta[f"{Path(image).stem}_png"] = _png_markdown(Path(image))
    return meta


def sweep_report_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=SWEEP_REPORT_KEY, partitions_def=SWEEP_STUDIES, group_name="models",
              kinds={"optuna"},
              description="One sweep's study: trials, best configuration, optimization "
                          "history, parameter importances, parallel coordinates.")
    def sweep_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:  # type: ignore[type-arg]
        return dg.MaterializeResult(metadata=report_metadata(settings, context.partition_key))

    return sweep_report
