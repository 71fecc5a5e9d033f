"""The RL agent: data preparation, RecurrentPPO training with transfer, honest evaluation,
the model store and registry, the promotion gate, and the live policy.

- ``data``: bars -> features -> train-window normalisation -> ``MarketArrays``; splits.
- ``config``: ``TrainingConfig`` (every hyperparameter explained).
- ``execution_spec``: ``ExecutionSpec``, how a model trades (saved and hashed with it), and
  ``ExecutionSpecMismatch`` when a session's risk limits cannot honour it.
- ``training``: ``train_foundation``, ``train_dual`` (transfer), ``train_dual_from_scratch``.
- ``transfer``: the documented foundation -> dual weight mapping.
- ``model_store``: ``ModelStore`` (directories + ``models`` registry, append-only promotions).
- ``evaluation`` (+ ``metrics``, ``baselines``, ``rollout``, ``report``): walk-forward
  evaluation against baselines at 0x/1x/2x costs over seeds with 95% CIs.
- ``promotion``: the blocking gate. ``live_policy``: ``LivePolicy`` for trading and serving,
  fed per bar by ``live_features`` (incremental features, bit for bit ``build_features``).

Importing this package imports torch and stable-baselines3 (a few seconds): CLI commands
import it inside their functions.
"""

from intraday_jules.agent.bundle import ModelBundle, ModelMismatchError
from intraday_jules.agent.config import DUAL_STEPS, FOUNDATION_STEPS, TrainingConfig
from intraday_jules.agent.data import (
    BlockedPartitionError,
    BlockedPredicate,
    DateWindow,
    PreparedData,
    Splits,
    TrainingDataError,
    prepare_data,
    split_sessions,
)
from intraday_jules.agent.evaluation import (
    EvaluationReport,
    EvaluationWindowError,
    Fold,
    evaluate,
    evaluation_data,
    walk_forward_folds,
)
from intraday_jules.agent.execution_spec import ExecutionSpec, ExecutionSpecMismatch
from intraday_jules.agent.live_policy import LiveDecision, LivePolicy
from intraday_jules.agent.model_store import PROMOTED, ModelStore, ModelStoreError
from intraday_jules.agent.promotion import GateReport, gate_criteria, promote
from intraday_jules.agent.training import (
    train_dual,
    train_dual_from_scratch,
    train_foundation,
)
from intraday_jules.agent.transfer import TransferReport, map_state_dict, transfer_weights

__all__ = [
    "DUAL_STEPS",
    "FOUNDATION_STEPS",
    "PROMOTED",
    "BlockedPartitionError",
    "BlockedPredicate",
    "DateWindow",
    "EvaluationReport",
    "EvaluationWindowError",
    "ExecutionSpec",
    "ExecutionSpecMismatch",
    "Fold",
    "GateReport",
    "LiveDecision",
    "LivePolicy",
    "ModelBundle",
    "ModelMismatchError",
    "ModelStore",
    "ModelStoreError",
    "PreparedData",
    "Splits",
    "TrainingConfig",
    "TrainingDataError",
    "TransferReport",
    "evaluate",
    "evaluation_data",
    "gate_criteria",
    "map_state_dict",
    "prepare_data",
    "promote",
    "split_sessions",
    "train_dual",
    "train_dual_from_scratch",
    "train_foundation",
    "transfer_weights",
    "walk_forward_folds",
]
