"""The search-space loader: the default space's dimensions, and a precise error for every
way a file can be wrong (unknown dimension, bad range, bad choice, missing config field)."""

from dataclasses import fields
from pathlib import Path

import pytest

from intraday_jules.agent.config import TrainingConfig
from intraday_jules.env import TradingEnvConfig
from intraday_jules.pipelines import sweep_space
from intraday_jules.pipelines.sweep import default_space_path
from intraday_jules.pipelines.sweep_space import (
    DIMENSIONS,
    DimensionRule,
    SearchSpaceError,
    apply_params,
    load_space,
)

ISSUE_DIMENSIONS = {"reward", "decision_interval", "curriculum", "lstm_size", "learning_rate",
                    "ent_coef", "n_steps", "gamma", "train_sessions"}


def field_exists(rule: DimensionRule) -> bool:
    owner = TradingEnvConfig if rule.target == "env" else TrainingConfig
    return rule.target == "window" or rule.field in {f.name for f in fields(owner)}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_the_default_space_covers_every_dimension_of_the_issue_with_legal_values(monkeypatch):
    # fields another branch adds (reward, decision interval, curriculum) may be missing here:
    # the values themselves must still be legal
    monkeypatch.setattr(sweep_space, "_require_field", lambda where, rule: None)
    space = load_space(default_space_path())
    assert {d.name for d in space.dimensions} == ISSUE_DIMENSIONS
    by_name = {d.name: d for d in space.dimensions}
    assert by_name["reward"].choices == ("pnl", "penalised", "dsr")
    assert by_name["decision_interval"].choices == (1, 5, 15)
    assert by_name["curriculum"].choices == ("none", "cost_ramp", "nvda_first")
    assert by_name["learning_rate"].log and by_name["learning_rate"].low == 1e-4


def test_a_space_of_existing_fields_maps_onto_the_training_config(tmp_path):
    space = load_space(write(tmp_path, """
dimensions:
  learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
  n_steps: {choices: [32, 64]}
  gamma: {low: 0.9, high: 0.99}
  train_sessions: {low: 2, high: 10, step: 2}
"""))
    assert [d.name for d in space.dimensions] == ["learning_rate", "n_steps", "gamma",
                                                   "train_sessions"]
    applied = apply_params({"learning_rate": 5e-4, "n_steps": 32, "gamma": 0.95,
                            "train_sessions": 4, "lstm_size": 16}, TrainingConfig())
    assert applied.config.learning_rate == 5e-4 and applied.config.n_steps == 32
    assert applied.config.gamma == 0.95 and applied.config.lstm_hidden_size == 16
    assert applied.train_sessions == 4
    assert applied.config.n_envs == TrainingConfig().n_envs  # the rest is the base's


@pytest.mark.parametrize(("text", "message"), [
    ("dimensions:\n  lstm_units: {choices: [8]}\n",
     "dimension 'lstm_units' is unknown; known dimensions: reward, decision_interval"),
    ("dimensions:\n  learning_rate: {low: 1.0e-3, high: 1.0e-4}\n",
     "dimension 'learning_rate': low 0.001 must be below high 0.0001"),
    ("dimensions:\n  ent_coef: {low: 0.0, high: 0.1, log: true}\n",
     "dimension 'ent_coef': a log range needs low > 0, got 0.0"),
    ("dimensions:\n  gamma: {low: 0.9, high: 1.5}\n", "dimension 'gamma': 1.5 must be <= 1"),
    ("dimensions:\n  decision_interval: {choices: [1, 7]}\n",
     "dimension 'decision_interval': 7 is not one of 1, 5, 15"),
    ("dimensions:\n  decision_interval: {low: 1, high: 15}\n",
     "dimension 'decision_interval': takes 'choices' from 1, 5, 15, not a range"),
    ("dimensions:\n  n_steps: {choices: [32, 64.5]}\n", "dimension 'n_steps': 64.5 is not an int"),
    ("dimensions:\n  n_steps: {low: 32}\n", "a range needs 'low' and 'high'"),
    ("dimensions:\n  n_steps: {choices: []}\n", "'choices' must be a non-empty list"),
    ("dimensions:\n  lstm_size: {choices: [0, 64]}\n", "dimension 'lstm_size': 0 must be >= 1"),
    ("dimensions:\n  learning_rate: {low: 1.0e-4, high: 1.0e-3, step: 2}\n",
     "'step' must be a positive integer, on an integer dimension"),
    ("dimension:\n  n_steps: {choices: [32]}\n", "with a 'dimensions' mapping at the top"),
    ("dimensions: {}\nsamplers: tpe\n", "unknown top-level key(s) ['samplers']"),
    ("dimensions: {}\n", "'dimensions' is empty"),
    ("dimensions: [\n", "not valid YAML"),
])
def test_a_bad_space_is_refused_naming_the_file_the_dimension_and_why(tmp_path, monkeypatch,
                                                                     text, message):
    # the value checks hold whether or not this version has the field (reward, curriculum...)
    monkeypatch.setattr(sweep_space, "_require_field", lambda where, rule: None)
    path = write(tmp_path, text)
    with pytest.raises(SearchSpaceError) as caught:
        load_space(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_refused_by_name(tmp_path):
    with pytest.raises(SearchSpaceError, match=r"no_such\.yaml: no such file"):
        load_space(tmp_path / "no_such.yaml")


def test_a_dimension_whose_config_field_does_not_exist_names_the_missing_field(
        tmp_path, monkeypatch):
    monkeypatch.setitem(DIMENSIONS, "future_knob",
                        DimensionRule("env", "future_knob", str, ("a", "b")))
    path = write(tmp_path, "dimensions:\n  future_knob: {choices: [a, b]}\n")
    with pytest.raises(SearchSpaceError) as caught:
        load_space(path)
    assert "sets TradingEnvConfig.future_knob, a field this version of IntradayJules does " \
           "not have" in str(caught.value)
    with pytest.raises(SearchSpaceError, match=r"TradingEnvConfig\.future_knob"):
        apply_params({"future_knob": "a"}, TrainingConfig())  # a stored trial's params too


def test_every_declared_dimension_targets_a_field_or_says_which_is_missing(tmp_path):
    # whichever fields exist in this version, no dimension is silently ignored
    for name, rule in DIMENSIONS.items():
        choice = rule.allowed[0] if rule.allowed else (1 if rule.kind is int else 0.5)
        path = write(tmp_path, f"dimensions:\n  {name}: {{choices: [{choice}]}}\n")
        if not field_exists(rule):
            with pytest.raises(SearchSpaceError, match=f"\\.{rule.field}, a field this version"):
                load_space(path)
            continue
        space = load_space(path)
        applied = apply_params({name: space.dimensions[0].choices[0]}, TrainingConfig())
        owner = applied.config.env if rule.target == "env" else applied.config
        if rule.target != "window":
            assert getattr(owner, rule.field) == choice


def test_the_foundation_trains_without_the_two_asset_nvda_first_curriculum():
    from dataclasses import dataclass

    from intraday_jules.pipelines.sweep_trial import foundation_config

    @dataclass(frozen=True)
    class WithCurriculum(TrainingConfig):  # the field as the curriculum branch adds it
        curriculum: str = "none"

    assert foundation_config(WithCurriculum(curriculum="nvda_first"), 64).curriculum == "none"
    kept = foundation_config(WithCurriculum(curriculum="cost_ramp"), 64)
    assert kept.curriculum == "cost_ramp" and kept.total_timesteps == 64
    assert foundation_config(TrainingConfig(), 128).total_timesteps == 128
