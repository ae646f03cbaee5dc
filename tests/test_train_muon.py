"""mllmkit's Muon: the update of `torch.optim.Muon`, batched over shapes, float32 on a CPU."""

from __future__ import annotations

import io
import math

import pytest
import torch

from mllmkit.train.muon import NS_COEFFICIENTS, Muon, newton_schulz

SHAPES = [(6, 6), (6, 6), (4, 10), (10, 4), (4, 10), (3, 5)]


def _params(dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=g, dtype=dtype).requires_grad_(True) for s in SHAPES]


def _grads(step: int, dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    return [torch.randn(s, generator=g, dtype=dtype) for s in SHAPES]


def _reference(params: list[torch.Tensor], steps: int, groups: list[dict]) -> list[torch.Tensor]:
    """Muon written out per matrix from its definition (float64, one matrix at a time):
    B <- mu B + (1 - mu) g; U = (1 - mu) g + mu B with Nesterov, else B; U turned wide,
    scaled to norm 1, five quintic iterations, turned back; W <- W (1 - lr wd) - lr' U."""
    a, b, c = NS_COEFFICIENTS
    ws = [p.detach().clone() for p in params]
    bufs = [torch.zeros_like(w) for w in ws]
    for step in range(steps):
        for i, g in enumerate(_grads(step)):
            group = next(gr for gr in groups if i in gr["idx"])
            mu = group["momentum"]
            bufs[i] = mu * bufs[i] + (1 - mu) * g
            u = (1 - mu) * g + mu * bufs[i] if group["nesterov"] else bufs[i]
            tall = u.shape[0] > u.shape[1]
            x = u.T if tall else u
            x = x / max(float(x.norm()), 1e-7)
            for _ in range(5):
                gram = x @ x.T
                x = a * x + (b * gram + c * gram @ gram) @ x
            x = x.T if tall else x
            rows, cols = u.shape
            if group["adjust"] == "match_rms_adamw":
                lr = group["lr"] * 0.2 * math.sqrt(max(rows, cols))
            else:
                lr = group["lr"] * math.sqrt(max(1.0, rows / cols))
            ws[i] = ws[i] * (1 - group["lr"] * group["wd"]) - lr * x
    return ws


@pytest.mark.parametrize("adjust", ["match_rms_adamw", "original"])
def test_muon_follows_its_definition_matrix_by_matrix(adjust: str) -> None:
    """Two groups (different lr, weight decay, Nesterov on and off), square, wide and tall
    matrices sharing shapes across groups: batching by shape must hand every matrix its
    own update, transposed back, with its own group's settings."""
    params = _params()
    groups = [
        {
            "idx": {0, 2, 3},
            "lr": 0.02,
            "wd": 0.1,
            "momentum": 0.95,
            "nesterov": True,
            "adjust": adjust,
        },
        {
            "idx": {1, 4, 5},
            "lr": 0.005,
            "wd": 0.0,
            "momentum": 0.9,
            "nesterov": False,
            "adjust": adjust,
        },
    ]
    ours = [p.detach().clone().requires_grad_(True) for p in params]
    opt = Muon(
        [
            {
                "params": [ours[i] for i in sorted(gr["idx"])],
                "lr": gr["lr"],
                "weight_decay": gr["wd"],
                "momentum": gr["momentum"],
                "nesterov": gr["nesterov"],
            }
            for gr in groups
        ],
        adjust_lr_fn=adjust,
        ns_dtype=torch.float64,
    )
    for step in range(3):
        for p, g in zip(ours, _grads(step), strict=True):
            p.grad = g
        opt.step()
    for got, want in zip(ours, _reference(params, 3, groups), strict=True):
        torch.testing.assert_close(got.detach(), want, rtol=1e-10, atol=1e-12)


def test_iterations_run_in_float32_on_a_cpu_by_default() -> None:
    """The default on a CPU is float32 (bfloat16 products are slow there): the same steps
    as an explicit `ns_dtype=float32`, and closer to float64 than bfloat16 gets."""

    def run(**kw: object) -> list[torch.Tensor]:
        ps = _params(torch.float32)
        opt = Muon([{"params": ps, "lr": 0.02}], adjust_lr_fn="match_rms_adamw", **kw)
        for step in range(3):
            for p, g in zip(ps, _grads(step, torch.float32), strict=True):
                p.grad = g
            opt.step()
        return [p.detach().double() for p in ps]

    default, f32, bf16, f64 = (
        run(),
        run(ns_dtype=torch.float32),
        run(ns_dtype=torch.bfloat16),
        run(ns_dtype=torch.float64),
    )
    for a, b in zip(default, f32, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    err32 = max(float((a - b).norm()) for a, b in zip(f32, f64, strict=True))
    err16 = max(float((a - b).norm()) for a, b in zip(bf16, f64, strict=True))
    assert err32 < 1e-5 < err16


def test_newton_schulz_lands_singular_values_near_one() -> None:
    """Five iterations take a matrix whose singular values span two orders of magnitude
    into roughly [0.7, 1.2], the band the quintic's coefficients aim for."""
    g = torch.Generator().manual_seed(1)
    u, _, v = torch.linalg.svd(torch.randn(32, 96, generator=g), full_matrices=False)
    x = u @ torch.diag(torch.logspace(-1, 1, 32)) @ v
    s = torch.linalg.svdvals(newton_schulz(x[None], NS_COEFFICIENTS, 5, 1e-7)[0])
    assert float(s.min()) > 0.6 and float(s.max()) < 1.25


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="torch.optim.Muon needs torch >= 2.9")
def test_same_update_and_state_as_torch_muon() -> None:
    """In bfloat16, as `torch.optim.Muon` computes, the steps agree up to bfloat16 rounding;
    and torch's state (momentum buffers, groups) loads into ours, so checkpoints move."""

    def run(make: type, **kw: object) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
        ps = _params(torch.float32)
        opt = make(
            [{"params": ps, "lr": 0.02, "weight_decay": 0.1}], adjust_lr_fn="match_rms_adamw", **kw
        )
        for step in range(3):
            for p, g in zip(ps, _grads(step, torch.float32), strict=True):
                p.grad = g
            opt.step()
        return ps, opt

    start = [p.detach() for p in _params(torch.float32)]
    theirs, torch_opt = run(torch.optim.Muon)
    ours, _ = run(Muon, ns_dtype=torch.bfloat16)
    for t, o, s in zip(theirs, ours, start, strict=True):
        move = (t - s).detach()
        assert float((o.detach() - t.detach()).norm()) < 2e-2 * float(move.norm())

    buf = io.BytesIO()
    torch.save(torch_opt.state_dict(), buf)
    buf.seek(0)
    mine = Muon([{"params": theirs, "lr": 0.0}], adjust_lr_fn="match_rms_adamw")
    mine.load_state_dict(torch.load(buf))
    for p in theirs:
        torch.testing.assert_close(
            mine.state[p]["momentum_buffer"], torch_opt.state[p]["momentum_buffer"]
        )
    for p, g in zip(theirs, _grads(3, torch.float32), strict=True):
        p.grad = g
    mine.step()  # a loaded group (ns_coefficients as saved) steps


def test_muon_refuses_what_it_cannot_step() -> None:
    with pytest.raises(ValueError, match=r"2-D parameters only; got one of shape \(3,\)"):
        Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="unknown adjust_lr_fn 'rms'"):
        Muon([torch.zeros(2, 2, requires_grad=True)], adjust_lr_fn="rms")
