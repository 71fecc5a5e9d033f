"""Transfer: initialise the dual-ticker policy as two copies of the NVDA foundation policy.

The dual policy has one block of LSTM units and MLP units per asset (``lstm_hidden_size`` and
``net_arch`` are per asset, see ``TrainingConfig``). The mapping fills each block with the
foundation's weights, wired to that asset's inputs, and zeroes every weight between blocks:

==========================  ============================================================
dual parameter              initialised from the foundation (H = its LSTM size, F = 12)
==========================  ============================================================
lstm_*.weight_ih_l0         per gate (i, f, g, o) and asset a: rows of block a read asset
                            a's feature columns (NVDA 0-11, MSFT 12-23) with the
                            foundation's feature columns 0-11, and asset a's position
                            column (24 + a) with the foundation's position column 12.
                            So the MSFT columns are the NVDA columns; cross-asset = 0.
lstm_*.weight_hh_l*         per gate, block-diagonal copies (no cross-asset recurrence yet)
lstm_*.bias_*               per gate, the foundation's bias repeated for each block
critic.* (no critic LSTM)   as weight_ih_l0 (columns mapped per asset)
mlp_extractor.*.weight      block-diagonal copies; biases repeated
action_net                  joint action k = 3 * a_nvda + a_msft gets logit
                            l_nvda[a_nvda] + l_msft[a_msft]: the sum of the per-asset
                            3-way logits (weight rows [W[a_nvda] | W[a_msft]], bias b+b)
value_net                   V = V_nvda + V_msft: weight [w | w], bias 2 b (the book's
                            P&L is the sum of the two assets' P&L)
==========================  ============================================================

Consequence (tested): until training moves the weights, the dual policy's joint action
distribution is the product of the foundation's distribution on NVDA's observations and its
distribution on MSFT's observations, so its marginal over NVDA actions equals the
foundation's whatever MSFT shows (in particular with MSFT inputs zeroed), and its value is
the sum of the two. Normalisation is carried too: the dual model uses the foundation's NVDA
statistics, and MSFT's own statistics from the training window put its features on the same
scale the copied columns expect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch as th
from sb3_contrib import RecurrentPPO

from intraday_jules.env.actions import decode_action, n_actions

GATES = 4  # LSTM gates, stacked i, f, g, o in PyTorch's weight layout


class TransferError(ValueError):
    """The foundation cannot be mapped onto the dual policy (shapes or an unknown parameter)."""


@dataclass(frozen=True)
class TransferReport:
    """How every dual parameter was initialised (``mapping``: name -> rule)."""

    mapping: dict[str, str]
    n_assets: int
    hidden_per_asset: int

    def to_dict(self) -> dict[str, object]:
        return {"mapping": self.mapping, "n_assets": self.n_assets,
                "hidden_per_asset": self.hidden_per_asset}


def map_state_dict(single: Mapping[str, th.Tensor], n_features: int, n_assets: int = 2
                   ) -> tuple[dict[str, th.Tensor], TransferReport]:
    """The dual policy's state dict built from the foundation's (see the module table)."""
    hidden = int(single["lstm_actor.weight_hh_l0"].shape[1])
    out: dict[str, th.Tensor] = {}
    rules: dict[str, str] = {}
    for name, tensor in single.items():
        mapped, rule = _map_one(name, tensor.detach().clone(), n_features, n_assets, hidden)
        out[name], rules[name] = mapped, rule
    return out, TransferReport(rules, n_assets, hidden)


def _map_one(name: str, w: th.Tensor, n_features: int, n_assets: int, hidden: int
             ) -> tuple[th.Tensor, str]:
    lstm = re.fullmatch(r"lstm_(actor|critic)\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)",
                        name)
    if lstm:
        kind, layer = lstm.group(2), int(lstm.group(3))
        if kind.startswith("bias"):
            return _gate_rows(w.unsqueeze(1), n_assets, hidden).squeeze(1), "per-gate repeat"
        if kind == "weight_ih" and layer == 0:
            return _gate_rows(_input_columns(w, n_features, n_assets), n_assets, hidden,
                              column_blocks=None), "per-gate, inputs mapped per asset"
        return _gate_rows(w, n_assets, hidden, column_blocks=int(w.shape[1])), \
            "per-gate block-diagonal"
    if name == "critic.weight":
        return _input_columns(w, n_features, n_assets, block_rows=True), "inputs per asset"
    if re.fullmatch(r"mlp_extractor\.(policy|value)_net\.\d+\.weight", name):
        return th.block_diag(*([w] * n_assets)), "block-diagonal"  # type: ignore[no-untyped-call]
    if re.fullmatch(r"(mlp_extractor\.(policy|value)_net\.\d+|critic)\.bias", name):
        return w.repeat(n_assets), "repeat per asset"
    if name == "action_net.weight":
        rows = [th.cat([w[d] for d in decode_action(k, n_assets)])
                for k in range(n_actions(n_assets))]
        return th.stack(rows), "joint logit = sum of per-asset logits"
    if name == "action_net.bias":
        return th.stack([sum((w[d] for d in decode_action(k, n_assets)), th.zeros(()))
                         for k in range(n_actions(n_assets))]), "sum of per-asset biases"
    if name == "value_net.weight":
        return w.repeat(1, n_assets), "V = sum of per-asset values"
    if name == "value_net.bias":
        return w * n_assets, "V = sum of per-asset values"
    raise TransferError(f"no transfer rule for foundation parameter {name} {tuple(w.shape)}")


def _input_columns(w: th.Tensor, n_features: int, n_assets: int, *,
                   block_rows: bool = False) -> th.Tensor:
    """Columns of a (rows, F + 1) input weight spread over the dual observation
    [features of asset 0 .. asset n-1, position 0 .. position n-1]. Returns (n, rows,
    n*F + n) per-asset copies, or with ``block_rows`` the (n*rows, n*F + n) stack."""
    rows = int(w.shape[0])
    if int(w.shape[1]) != n_features + 1:
        raise TransferError(f"foundation input has {w.shape[1]} columns, expected "
                            f"{n_features} features + 1 position")
    blocks = th.zeros((n_assets, rows, n_assets * n_features + n_assets), dtype=w.dtype)
    for a in range(n_assets):
        blocks[a, :, a * n_features:(a + 1) * n_features] = w[:, :n_features]
        blocks[a, :, n_assets * n_features + a] = w[:, n_features]
    return blocks.reshape(n_assets * rows, -1) if block_rows else blocks


def _gate_rows(w: th.Tensor, n_assets: int, hidden: int, *,
               column_blocks: int | None = 0) -> th.Tensor:
    """Re-stack an LSTM tensor's gate rows for n asset blocks.

    ``w`` is (4H, C) (or per-asset (n, 4H, C) when ``column_blocks`` is None: inputs already
    mapped). With ``column_blocks`` = C > 0 the columns are block-diagonal (recurrent
    weights); with 0 the columns are shared (biases)."""
    out_rows = []
    for gate in range(GATES):
        for a in range(n_assets):
            if column_blocks is None:
                block = w[a, gate * hidden:(gate + 1) * hidden]
            elif column_blocks:
                block = th.zeros((hidden, n_assets * column_blocks), dtype=w.dtype)
                block[:, a * column_blocks:(a + 1) * column_blocks] = \
                    w[gate * hidden:(gate + 1) * hidden]
            else:
                block = w[gate * hidden:(gate + 1) * hidden]
            out_rows.append(block)
    return th.cat(out_rows)


def transfer_weights(foundation: RecurrentPPO, dual: RecurrentPPO, n_features: int
                     ) -> TransferReport:
    """Load the mapped foundation weights into ``dual``'s policy (every parameter, strictly;
    a shape mismatch is a ``TransferError`` naming the parameter)."""
    n_assets = _assets_of(int(dual.action_space.n))  # type: ignore[attr-defined]
    mapped, report = map_state_dict(foundation.policy.state_dict(), n_features, n_assets)
    target = dual.policy.state_dict()
    if set(mapped) != set(target):
        raise TransferError(f"parameters differ: only in the foundation "
                            f"{sorted(set(mapped) - set(target))}, only in the dual "
                            f"{sorted(set(target) - set(mapped))}")
    for name, tensor in mapped.items():
        if tuple(tensor.shape) != tuple(target[name].shape):
            raise TransferError(f"{name}: mapped shape {tuple(tensor.shape)} but the dual "
                                f"policy has {tuple(target[name].shape)}")
    dual.policy.load_state_dict(mapped, strict=True)
    return report


def _assets_of(n_joint: int) -> int:
    n, size = 0, 1
    while size < n_joint:
        size, n = size * 3, n + 1
    if size != n_joint:
        raise TransferError(f"Discrete({n_joint}) is not a product of 3-way actions")
    return n
