"""``challenger_passed_gate`` on ``models/promoted_model``: a WARN, so that a rejected
challenger shows in the UI without failing the run (the gate refusing is a normal outcome)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from intraday_jules.defs.common.keys import PROMOTED_KEY

if TYPE_CHECKING:  # the agent package pulls in torch: the code location loads without it
    from intraday_jules.agent.promotion import GateReport

GATE_CHECK = "challenger_passed_gate"

gate_check_spec = dg.AssetCheckSpec(GATE_CHECK, asset=PROMOTED_KEY,
                                    description="beats flat and buy-and-hold after 1x costs, "
                                                "max drawdown <= 2%, FeatureSpec matches")


def gate_check_result(gate: GateReport) -> dg.AssetCheckResult:
    """The promotion gate's verdict as the check's result."""
    return dg.AssetCheckResult(
        check_name=GATE_CHECK, passed=gate.promoted, severity=dg.AssetCheckSeverity.WARN,
        metadata={"reasons": "; ".join(gate.reasons) or "all criteria passed"})
