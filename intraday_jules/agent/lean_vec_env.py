"""``DummyVecEnv`` without the per-step deep copies: the same steps, ~15% less training time.

sb3's ``DummyVecEnv.step_wait`` returns ``deepcopy(self.buf_infos)`` and a deep copy of the
observation buffer on every vectorised step: with 16 envs whose info dicts carry fills,
shares and prices, copying them was the largest single Python cost of a rollout
(``benchmarks.training``'s cProfile: ~15% of the run). Our envs return a new info dict on every
step, so a new list holding them is already independent of the next step; the observations are
copied with one ``ndarray.copy``. Everything else (auto-reset, ``terminal_observation``,
``TimeLimit.truncated``) is sb3's code path, unchanged.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn


class LeanDummyVecEnv(DummyVecEnv):
    """``DummyVecEnv`` for envs with a flat Box observation and a fresh info dict per step."""

    def step_wait(self) -> VecEnvStepReturn:
        infos = []
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = env.step(self.actions[i])
            self.buf_rews[i] = reward
            self.buf_dones[i] = done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = env.reset()
            self._save_obs(i, obs)
            infos.append(info)
        self.buf_infos = infos
        return self._obs_from_buf(), self.buf_rews.copy(), self.buf_dones.copy(), list(infos)

    def _obs_from_buf(self) -> VecEnvObs:
        if self.keys != [None]:  # Dict observations: sb3's own (deep-copying) path
            return super()._obs_from_buf()
        return np.array(self.buf_obs[None], copy=True)  # type: ignore[index]  # Box: key None
