"""CPCV plan over sessions: leakage rules (test never trained on, embargo, purge), paths that
cover every session exactly once, the path count, and precise refusals."""

from __future__ import annotations

import math
from datetime import date

import pytest

from intraday_jules.agent.cpcv import CpcvPlan, CpcvPlanError, session_splits
from intraday_jules.domain.calendar import sessions_in_range

SESSIONS = sessions_in_range(date(2025, 1, 2), date(2025, 3, 31))[:40]
SHAPES = [(6, 2), (5, 3), (4, 2), (3, 2)]


def _next_session(plan: CpcvPlan, day: date) -> date | None:
    i = plan.sessions.index(day)
    return plan.sessions[i + 1] if i + 1 < len(plan.sessions) else None


@pytest.mark.parametrize(("n", "k"), SHAPES)
def test_session_splits_never_trains_on_a_test_session(n: int, k: int) -> None:
    plan = session_splits(SESSIONS, n_groups=n, n_test_groups=k)
    assert len(plan.splits) == math.comb(n, k)
    for split in plan.splits:
        assert not set(split.train) & set(split.test_sessions)
        assert split.test == tuple(plan.groups[g] for g in split.test_groups)


@pytest.mark.parametrize("embargo", [1, 2])
def test_session_splits_embargoes_the_sessions_after_each_test_group(embargo: int) -> None:
    plan = session_splits(SESSIONS, embargo_sessions=embargo)
    for split in plan.splits:
        tested = set(split.test_sessions)
        for group in split.test:
            after = plan.sessions[plan.sessions.index(group[-1]) + 1:][:embargo]
            assert not set(after) & set(split.train), (split.index, after)
        # nothing else is left out: train + test + embargoed = every session
        embargoed = {d for g in split.test
                     for d in plan.sessions[plan.sessions.index(g[-1]) + 1:][:embargo]}
        assert set(split.train) == set(plan.sessions) - tested - embargoed


def test_session_splits_purges_both_sides_of_a_test_group() -> None:
    plan = session_splits(SESSIONS, purge_sessions=1, embargo_sessions=1)
    for split in plan.splits:
        for group in split.test:
            i = plan.sessions.index(group[0])
            before = plan.sessions[i - 1] if i > 0 else None
            after = _next_session(plan, group[-1])
            assert before not in split.train and after not in split.train


@pytest.mark.parametrize(("n", "k"), SHAPES)
def test_every_path_covers_every_session_exactly_once(n: int, k: int) -> None:
    plan = session_splits(SESSIONS, n_groups=n, n_test_groups=k)
    assert plan.n_paths == math.comb(n, k) * k // n
    used = set()
    for path in range(plan.n_paths):
        chosen = plan.path_splits(path)
        covered = [d for g, s in enumerate(chosen) for d in plan.splits[s].test[
            plan.splits[s].test_groups.index(g)]]
        assert covered == list(plan.sessions)  # each once, in time order
        used.update((g, s) for g, s in enumerate(chosen))
    # every (group, split) test result is used by exactly one path
    tested = {(g, s.index) for s in plan.splits for g in s.test_groups}
    assert used == tested and len(tested) == plan.n_paths * n


def test_groups_are_consecutive_and_the_last_takes_the_remainder() -> None:
    plan = session_splits(SESSIONS[:39], n_groups=6)
    assert [len(g) for g in plan.groups] == [6, 6, 6, 6, 6, 9]
    assert [d for g in plan.groups for d in g] == list(SESSIONS[:39])


def test_session_splits_deduplicates_and_sorts_the_sessions() -> None:
    plan = session_splits(list(reversed(SESSIONS)) + SESSIONS[:3])
    assert plan.sessions == tuple(SESSIONS)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_groups": 2}, "at least 3 groups"),
    ({"n_test_groups": 6}, "n_test_groups must be in 2..5"),
    ({"n_test_groups": 1}, "n_test_groups must be in 2..5"),
    ({"embargo_sessions": 0}, "embargo_sessions must be >= 1"),
    ({"purge_sessions": -1}, "purge_sessions must be >= 0"),
])
def test_session_splits_refuses_a_bad_plan(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(CpcvPlanError, match=message):
        session_splits(SESSIONS, **kwargs)


def test_session_splits_refuses_too_few_sessions_saying_how_many_it_needs() -> None:
    with pytest.raises(CpcvPlanError, match=r"17 sessions are too few for 6 groups .* "
                                            r"\(at least 18 sessions in all\)"):
        session_splits(SESSIONS[:17])
    assert len(session_splits(SESSIONS[:18]).splits) == 15
