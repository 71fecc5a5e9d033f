"""Combinatorial purged cross-validation (CPCV) over whole sessions: the plan of splits.

Lopez de Prado (Advances in Financial Machine Learning, ch. 12): the sessions are cut into N
consecutive groups; every choice of k test groups is a split (C(N, k) splits) that trains on
the other sessions and tests on those k groups. Each group is tested in C(N-1, k-1) splits,
and the test groups recombine into C(N, k) * k / N paths, each an out-of-sample history over
every session exactly once. The split arithmetic is skfolio's ``CombinatorialPurgedCV`` on the
session index (groups, purge, embargo, ``get_path_ids``); this module names the sessions.

- Purge (``purge_sessions``): training sessions removed on both sides of a test group, for
  labels that span sessions. Ours span none: every position is flattened before the close
  and a reward looks one bar ahead inside the session, so the decision horizon is 0 sessions.
- Embargo (``embargo_sessions`` >= 1): training sessions removed right after each test
  group. Features are per session (none crosses a close), but consecutive sessions share
  their regime (volatility clusters, news carry over): the session after a test group is
  the one most like it, so it is not trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from skfolio.model_selection import CombinatorialPurgedCV


class CpcvPlanError(ValueError):
    """The sessions cannot be cut into the requested CPCV plan; the message says why."""


@dataclass(frozen=True)
class CpcvSplit:
    """One split: train on ``train``, test on the groups ``test_groups`` (their sessions in
    ``test``, one tuple per group), each group's result belonging to path ``paths[j]``."""

    index: int
    train: tuple[date, ...]
    test_groups: tuple[int, ...]
    test: tuple[tuple[date, ...], ...]
    paths: tuple[int, ...]

    @property
    def test_sessions(self) -> tuple[date, ...]:
        return tuple(d for group in self.test for d in group)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "train_sessions": len(self.train),
                "test_groups": list(self.test_groups), "paths": list(self.paths)}


@dataclass(frozen=True)
class CpcvPlan:
    """Every split of a CPCV over ``sessions`` (sorted, unique) in ``groups`` consecutive
    groups, ``n_test_groups`` tested per split; ``n_paths`` = C(N, k) * k / N."""

    sessions: tuple[date, ...]
    groups: tuple[tuple[date, ...], ...]
    n_test_groups: int
    embargo_sessions: int
    purge_sessions: int
    splits: tuple[CpcvSplit, ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_paths(self) -> int:
        return math.comb(self.n_groups, self.n_test_groups) * self.n_test_groups // self.n_groups

    def path_splits(self, path: int) -> tuple[int, ...]:
        """For each group in time order, the split whose test result path ``path`` takes."""
        out = {g: s.index for s in self.splits
               for g, p in zip(s.test_groups, s.paths, strict=True) if p == path}
        return tuple(out[g] for g in range(self.n_groups))

    def to_dict(self) -> dict[str, Any]:
        return {"groups": self.n_groups, "test_groups": self.n_test_groups,
                "paths": self.n_paths, "embargo_sessions": self.embargo_sessions,
                "purge_sessions": self.purge_sessions,
                "group_sessions": [[g[0].isoformat(), g[-1].isoformat()] for g in self.groups],
                "splits": [s.to_dict() for s in self.splits]}


def session_splits(sessions: Sequence[date], *, n_groups: int = 6, n_test_groups: int = 2,
                   embargo_sessions: int = 1, purge_sessions: int = 0) -> CpcvPlan:
    """The CPCV plan over ``sessions`` (deduplicated, sorted). Raises ``CpcvPlanError`` for
    fewer than 3 groups, k outside 2..N-1, a negative purge, an embargo below 1 session, or
    too few sessions for every group to keep a training session beside its purge and
    embargo (skfolio's rule: purge + embargo < sessions per group - 1)."""
    days = tuple(sorted(set(sessions)))
    _check(len(days), n_groups, n_test_groups, embargo_sessions, purge_sessions)
    cv = CombinatorialPurgedCV(n_folds=n_groups, n_test_folds=n_test_groups,
                               purged_size=purge_sessions, embargo_size=embargo_sessions)
    index = np.arange(len(days)).reshape(-1, 1)
    test_groups, path_ids = cv.test_set_index, cv.get_path_ids()
    splits = []
    for i, (train, tests) in enumerate(cv.split(index)):
        splits.append(CpcvSplit(
            index=i, train=tuple(days[j] for j in train),
            test_groups=tuple(int(g) for g in test_groups[i]),
            test=tuple(tuple(days[j] for j in test) for test in tests),
            paths=tuple(int(p) for p in path_ids[i])))
    fold = np.minimum(np.arange(len(days)) // (len(days) // n_groups), n_groups - 1)
    groups = tuple(tuple(days[j] for j in np.flatnonzero(fold == g)) for g in range(n_groups))
    return CpcvPlan(days, groups, n_test_groups, embargo_sessions, purge_sessions,
                    tuple(splits))


def _check(n_sessions: int, n_groups: int, k: int, embargo: int, purge: int) -> None:
    if n_groups < 3:
        raise CpcvPlanError(f"CPCV needs at least 3 groups, got n_groups={n_groups}")
    if not 2 <= k < n_groups:
        raise CpcvPlanError(f"n_test_groups must be in 2..{n_groups - 1} (k < N; k = 1 is "
                            f"plain k-fold with one path), got {k}")
    if purge < 0:
        raise CpcvPlanError(f"purge_sessions must be >= 0, got {purge}")
    if embargo < 1:
        raise CpcvPlanError(f"embargo_sessions must be >= 1 (the session after a test group "
                            f"shares its regime), got {embargo}")
    per_group = n_sessions // n_groups
    if purge + embargo >= per_group - 1:
        need = n_groups * (purge + embargo + 2)
        raise CpcvPlanError(
            f"{n_sessions} sessions are too few for {n_groups} groups with a "
            f"{purge}-session purge and a {embargo}-session embargo: a group has "
            f"{per_group} session(s) and needs at least {purge + embargo + 2} "
            f"(at least {need} sessions in all)")
