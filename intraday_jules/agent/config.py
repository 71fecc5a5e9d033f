"""Training configuration: every RecurrentPPO hyperparameter, named and explained in our terms.

The defaults are the measured fast configuration (docs/training.md, ``python -m
benchmarks.training``): the algorithm is sb3-contrib's RecurrentPPO unchanged; what differs
from the stock defaults is the batching (16 envs x 64 steps, one LSTM pass per sequence) and a
smaller LSTM, which together run several times faster on 2 cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from intraday_jules.agent.device import parse_device, resolve_device
from intraday_jules.env import TradingEnvConfig

FOUNDATION_STEPS = 50_000  # the seed's budget for the NVDA foundation model
DUAL_STEPS = 200_000  # the seed's budget for the dual-ticker model
VecEnvKind = Literal["dummy", "subproc"]
EpisodeMode = Literal["session", "env"]
CurriculumKind = Literal["none", "cost_ramp", "nvda_first"]
CURRICULA: tuple[str, ...] = get_args(CurriculumKind)


@dataclass(frozen=True)
class TrainingConfig:
    """How one RecurrentPPO model is trained.

    total_timesteps: decision steps (1-minute bars acted on) summed over all envs. 50,000 for
        the foundation, 200,000 for the dual model (the seed's budgets); one session of
        regular hours has 335 decision bars, so 50,000 steps replay ~150 sessions (with
        ``env.decision_interval_minutes`` = 5 a session has 68, so the same steps replay
        about five times as many sessions).
    n_envs: parallel copies of the env, each starting at a different session. More envs give
        the LSTM more independent sequences per update at the same cost per policy call
        (the policy runs on a batch of n_envs observations).
    n_steps: bars each env plays per rollout, i.e. the truncated back-propagation-through-time
        length of the LSTM: 64 bars is about an hour of trading. A rollout is
        n_envs x n_steps transitions.
    batch_size: transitions per gradient step (must divide n_envs x n_steps, or the last
        minibatch is shorter). With sequence batching one minibatch is several whole
        sequences, so bigger batches mean fewer, cheaper LSTM passes.
    n_epochs: passes of PPO over each rollout.
    lstm_hidden_size: LSTM units PER TRADED ASSET: the foundation has this many, the dual
        model twice as many (one block per asset, so the transfer can copy the foundation
        into each block; see ``transfer``).
    net_arch: hidden layer widths after the LSTM, per asset, for both the action and the
        value heads (doubled for the dual model like the LSTM).
    learning_rate: Adam step size.
    gamma: discount per bar. 0.99 looks about 100 bars (~1.5 hours) ahead; a session is
        335 decision bars, and the book is flat at each close anyway.
    gae_lambda: GAE's bias/variance trade-off for the advantage estimates.
    clip_range: PPO's limit on how far one update may move the action probabilities.
    ent_coef: weight of the entropy bonus that keeps the policy exploring buy/sell instead of
        collapsing early onto hold (costs make hold the easy local optimum).
    vf_coef, max_grad_norm: value-loss weight and gradient clipping (sb3 defaults).
    seed: seeds Python, NumPy, torch, every env (seed + i) and the action spaces.
    torch_threads: torch intra-op threads while training. 1 on our 2 shared cores: measured
        faster than 2 and robust when other work runs (docs/training.md).
    vec_env: "dummy" runs the envs in-process (an env step is far cheaper than the pipe of a
        subprocess, docs/environments.md); "subproc" is for envs that are expensive to step.
    episode_mode: "session" makes every training episode one session, from its first
        decision bar to its forced flatten, starting with a zero LSTM state, exactly how
        evaluation and ``LivePolicy`` run the policy; "env" uses the env's own
        ``episode_length`` episodes, which span sessions.
    checkpoint_freq: save a checkpoint every this many steps (0: none).
    curriculum: how the task changes as training progresses (``agent.curriculum``), set at
        the start of every rollout from the steps done so far: "none" (default: the task is
        the evaluated one throughout); "cost_ramp": costs scaled from 0x to 1x linearly
        over the first ``cost_ramp_fraction`` of the steps, then 1x; "nvda_first": every
        symbol after the first (MSFT in the dual model) is forced to hold for the first
        ``nvda_first_fraction`` of the steps, then the policy trades both (the seed's
        "curriculum learning with dual-ticker actions"; no effect on the NVDA foundation).
        A training choice: recorded here, not in the ExecutionSpec (the model trades the
        same rules whatever curriculum it learned under).
    cost_ramp_fraction: share of the steps over which "cost_ramp" ramps the costs up (0.8:
        the last 20% train at the full costs the model is evaluated at).
    nvda_first_fraction: share of the steps "nvda_first" trades NVDA only (the split point).
    device: "cpu" (default, measured faster for this policy size), "cuda" (an error when
        torch sees no CUDA device) or "auto" (CUDA when present); INTRADAY_JULES_DEVICE.
    tensorboard_dir: where TensorBoard event files go (None: no TensorBoard logging).
    env: the trading env's settings (``TradingEnvConfig``: lookback, caps, penalties...).
    """

    total_timesteps: int = FOUNDATION_STEPS
    n_envs: int = 16
    n_steps: int = 64
    batch_size: int = 512
    n_epochs: int = 10
    lstm_hidden_size: int = 64
    net_arch: tuple[int, ...] = (64,)
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    seed: int = 0
    torch_threads: int = 1
    vec_env: VecEnvKind = "dummy"
    episode_mode: EpisodeMode = "session"
    checkpoint_freq: int = 10_000
    device: str = "cpu"
    tensorboard_dir: Path | None = None
    curriculum: CurriculumKind = "none"
    cost_ramp_fraction: float = 0.8
    nvda_first_fraction: float = 0.5
    env: TradingEnvConfig = field(default_factory=TradingEnvConfig)

    def __post_init__(self) -> None:
        positive = ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs",
                    "lstm_hidden_size", "torch_threads")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainingConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("TrainingConfig.batch_size must be >= 2 (advantage normalisation)")
        if self.vec_env not in ("dummy", "subproc"):
            raise ValueError(f"vec_env must be 'dummy' or 'subproc', got {self.vec_env!r}")
        if self.episode_mode not in ("session", "env"):
            raise ValueError(f"episode_mode must be 'session' or 'env', got {self.episode_mode!r}")
        if self.curriculum not in CURRICULA:
            raise ValueError(f"TrainingConfig.curriculum must be one of {', '.join(CURRICULA)}, "
                             f"got {self.curriculum!r}")
        for name in ("cost_ramp_fraction", "nvda_first_fraction"):
            if not 0.0 < float(getattr(self, name)) <= 1.0:
                raise ValueError(f"TrainingConfig.{name} must be in (0, 1], "
                                 f"got {getattr(self, name)!r}")
        object.__setattr__(self, "net_arch", tuple(int(w) for w in self.net_arch))
        object.__setattr__(self, "device", parse_device(self.device))

    @classmethod
    def foundation(cls, **overrides: Any) -> TrainingConfig:
        """The seed's NVDA foundation run (50,000 steps) with ``overrides``."""
        return cls(**{"total_timesteps": FOUNDATION_STEPS, **overrides})

    @classmethod
    def dual(cls, **overrides: Any) -> TrainingConfig:
        """The seed's dual-ticker run (200,000 steps) with ``overrides``."""
        return cls(**{"total_timesteps": DUAL_STEPS, **overrides})

    def with_steps(self, total_timesteps: int) -> TrainingConfig:
        return replace(self, total_timesteps=total_timesteps)

    def policy_kwargs(self, n_assets: int) -> dict[str, Any]:
        """MlpLstmPolicy arguments: sizes scale with the number of assets (one block each)."""
        width = [w * n_assets for w in self.net_arch]
        return {"lstm_hidden_size": self.lstm_hidden_size * n_assets,
                "net_arch": {"pi": list(width), "vf": list(width)}}

    def ppo_kwargs(self) -> dict[str, Any]:
        """RecurrentPPO constructor arguments (besides policy, env and policy_kwargs)."""
        return {"n_steps": self.n_steps, "batch_size": self.batch_size,
                "n_epochs": self.n_epochs, "learning_rate": self.learning_rate,
                "gamma": self.gamma, "gae_lambda": self.gae_lambda,
                "clip_range": self.clip_range, "ent_coef": self.ent_coef,
                "vf_coef": self.vf_coef, "max_grad_norm": self.max_grad_norm,
                "seed": self.seed, "device": resolve_device(self.device)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, saved with every model."""
        data = asdict(self)
        data["net_arch"] = list(self.net_arch)
        data["tensorboard_dir"] = None if self.tensorboard_dir is None else str(
            self.tensorboard_dir)
        data["env"] = self.env.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["net_arch"] = tuple(values.get("net_arch", (64,)))
        if values.get("tensorboard_dir") is not None:
            values["tensorboard_dir"] = Path(values["tensorboard_dir"])
        values["env"] = TradingEnvConfig(**data.get("env", {}))
        return cls(**values)
