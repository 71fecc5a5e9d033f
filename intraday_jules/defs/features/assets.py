"""``features/feature_table``: the causal features of one (session, symbol) partition, built by
``pipelines.features`` only on partitions whose bars passed their blocking checks."""

from datetime import date

import dagster as dg

from intraday_jules.defs.common.keys import BARS_KEY, FEATURES_KEY
from intraday_jules.defs.common.partitions import (
    SESSION_DIMENSION,
    SYMBOL_DIMENSION,
    bars_partitions,
)
from intraday_jules.defs.common.resources import BarStoreResource
from intraday_jules.defs.features.checks import feature_check_result, feature_check_specs
from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.pipelines.features import PartitionBlocked, store_partition_features
from intraday_jules.settings import Settings


def feature_table_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=FEATURES_KEY, partitions_def=bars_partitions(settings), deps=[BARS_KEY],
        group_name="features", kinds={"python", "pandas"}, check_specs=feature_check_specs(),
        description="12 causal features per bar (FeatureSpec " + DEFAULT_SPEC.version[:12] +
                    "…); refuses partitions whose bars failed blocking checks.")
    def feature_table(context: dg.AssetExecutionContext,
                      bar_store: BarStoreResource) -> dg.MaterializeResult:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        session, symbol = date.fromisoformat(keys[SESSION_DIMENSION]), keys[SYMBOL_DIMENSION]
        key = str(context.partition_key)
        store = bar_store.open()
        try:
            result = store_partition_features(store, session, symbol, key)
        except PartitionBlocked as exc:
            raise dg.Failure(description=str(exc)) from None
        finally:
            store.close()
        return dg.MaterializeResult(
            metadata={"rows": result.rows, "warmup_rows": result.warmup_rows,
                      "spec_version": result.spec_version,
                      "features": ", ".join(DEFAULT_SPEC.names)},
            check_results=[feature_check_result(c) for c in result.report.checks])

    return feature_table
