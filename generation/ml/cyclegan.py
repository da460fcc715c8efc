"""CycleGAN for symbolic style transfer between two styles (Brunner et al. 2018).

This file holds the model and its training step only; the networks live in ``networks.py``,
the loop in ``train_cyclegan.py``.

Names in code -> names in the papers (Zhu et al. 2017; Brunner et al. 2018):
    style A, style B   -> domains X, Y (Brunner: genres A, B)
    G_A  (A -> B)      -> G   (Brunner: G_{A->B})
    G_B  (B -> A)      -> F   (Brunner: G_{B->A})
    D_A  (judges B)    -> D_Y (Brunner: D_B)
    D_B  (judges A)    -> D_X (Brunner: D_A)
    D_A_all, D_B_all   -> Brunner's extra discriminators D_{A,m}/D_{B,m}, which judge fakes
                          against *mixed* real music (A and B together), so that a generator
                          keeps its output inside music in general, not only inside its target
                          style; off unless ``use_mixed_discriminators``.
    lambda_cycle       -> lambda (weight of the L1 cycle-consistency loss)
    gamma_mixed        -> gamma (weight of the extra discriminators' loss)
    sigma_d            -> sigma (std of the Gaussian noise Brunner adds to every
                          discriminator input so it learns coarse features, not grid artefacts)

A checkpoint is self-describing: ``model.safetensors`` holds every network, ``config.json`` the
``CycleGANConfig`` and the step count, so ``CycleGANModel.load(dir)`` needs nothing remembered
from the command line. Adam's moments (only needed to resume) are kept apart by the trainer.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from generation.ml.networks import GANLoss, define_D, define_G


@dataclass
class CycleGANConfig:
    style_a: str = "a"  # source of G_A, judged by D_B
    style_b: str = "b"  # target of G_A, judged by D_A
    in_channels: int = 2  # piano-roll channels: sounding, onset
    generator: str = "resnet"  # networks.define_G name
    discriminator: str = "patch"  # networks.define_D name
    ngf: int = 16  # generator base channels (x2, x4 after the two downsamplings)
    n_blocks: int = 3  # residual blocks at the bottleneck
    ndf: int = 32  # discriminator base channels
    input_skip: bool = True  # generator logits start from the input roll (see networks.py)
    lambda_cycle: float = 10.0  # weight of the cycle-consistency L1 loss
    lambda_identity: float = 0.0  # weight of G_A(b) ~ b; 0 = off, as in the paper
    use_mixed_discriminators: bool = True  # Brunner's D_A_all / D_B_all on A u B
    gamma_mixed: float = 1.0  # weight of the mixed discriminators in the generator loss
    sigma_d: float = 0.1  # Gaussian noise on discriminator inputs (inputs in [0, 1])
    straight_through: bool = True  # D and the cycle see the fake cut at 0.5 (see forward)
    pool_size: int = 50  # image pool of past fakes per direction (Shrivastava et al.)
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 8
    seed: int = 0
    # per-style facts the decoder needs at transfer time, copied from the training data
    style_facts: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> CycleGANConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class ImagePool:
    """Keeps up to ``size`` generated phrases; half the time a discriminator is shown an older
    fake instead of the newest, which damps the oscillation between G and D."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.items: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size <= 0:
            return batch
        out = []
        for item in batch.detach():
            item = item.unsqueeze(0)
            if len(self.items) < self.size:
                self.items.append(item.clone())
                out.append(item)
            elif self.rng.random() < 0.5:
                i = self.rng.randrange(self.size)
                out.append(self.items[i].clone())
                self.items[i] = item.clone()
            else:
                out.append(item)
        return torch.cat(out, 0)


def set_requires_grad(nets: list[torch.nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class CycleGANModel:
    """Two generators, two (or four) discriminators, their optimisers and the training step.

    Usage per step: ``set_input(real_a, real_b, mixed)`` then ``optimize_parameters()``, which
    returns the step's losses as floats.
    """

    def __init__(self, config: CycleGANConfig, device: str | torch.device = "cpu"):
        self.config = c = config
        self.device = torch.device(device)
        torch.manual_seed(c.seed)
        self.G_A = define_G(c.generator, c.in_channels, c.in_channels, c.ngf, c.n_blocks,
                            c.input_skip).to(self.device)
        self.G_B = define_G(c.generator, c.in_channels, c.in_channels, c.ngf, c.n_blocks,
                            c.input_skip).to(self.device)
        self.D_A = define_D(c.discriminator, c.in_channels, c.ndf).to(self.device)
        self.D_B = define_D(c.discriminator, c.in_channels, c.ndf).to(self.device)
        self.discriminators = [self.D_A, self.D_B]
        if c.use_mixed_discriminators:
            self.D_A_all = define_D(c.discriminator, c.in_channels, c.ndf).to(self.device)
            self.D_B_all = define_D(c.discriminator, c.in_channels, c.ndf).to(self.device)
            self.discriminators += [self.D_A_all, self.D_B_all]
        self.criterion_gan = GANLoss()
        self.criterion_cycle = torch.nn.L1Loss()
        g_params = list(self.G_A.parameters()) + list(self.G_B.parameters())
        d_params = [p for d in self.discriminators for p in d.parameters()]
        self.optimizer_G = torch.optim.Adam(g_params, lr=c.lr, betas=(c.beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(d_params, lr=c.lr, betas=(c.beta1, 0.999))
        self.fake_A_pool = ImagePool(c.pool_size, c.seed)
        self.fake_B_pool = ImagePool(c.pool_size, c.seed + 1)
        self.step = 0
        self._noise_gen = torch.Generator(device="cpu").manual_seed(c.seed)

    # -- the training step ----------------------------------------------------------------
    def set_input(self, real_A: torch.Tensor, real_B: torch.Tensor,
                  mixed: torch.Tensor | None = None) -> None:
        """Phrases (N, C, 84, 64) in [0, 1] of style A and B; ``mixed`` (real phrases of both
        styles) feeds the extra discriminators and defaults to A and B concatenated."""
        self.real_A = real_A.to(self.device)
        self.real_B = real_B.to(self.device)
        self.mixed = (mixed if mixed is not None else torch.cat([real_A, real_B])).to(
            self.device)

    def _hard(self, x: torch.Tensor) -> torch.Tensor:
        """The fake as it will be played: cut at 0.5, with the gradient passed straight
        through. Without it a generator learns to hide the source in faint values (below any
        note threshold) that the cycle reads back and the noisy discriminators cannot see,
        and its transfers decode to silence."""
        if not self.config.straight_through:
            return x
        return x + ((x > 0.5).to(x.dtype) - x).detach()

    def forward(self) -> None:
        self.fake_B = self._hard(self.G_A(self.real_A))  # G(A)
        self.rec_A = self.G_B(self.fake_B)  # F(G(A))
        self.fake_A = self._hard(self.G_B(self.real_B))  # F(B)
        self.rec_B = self.G_A(self.fake_A)  # G(F(B))

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.sigma_d <= 0:
            return x
        noise = torch.randn(x.shape, generator=self._noise_gen).to(x.device)
        return x + self.config.sigma_d * noise

    def backward_G(self) -> dict[str, torch.Tensor]:
        c = self.config
        losses = {
            "G_A": self.criterion_gan(self.D_A(self._noisy(self.fake_B)), True),
            "G_B": self.criterion_gan(self.D_B(self._noisy(self.fake_A)), True),
            "cycle_A": self.criterion_cycle(self.rec_A, self.real_A) * c.lambda_cycle,
            "cycle_B": self.criterion_cycle(self.rec_B, self.real_B) * c.lambda_cycle,
        }
        if c.use_mixed_discriminators:
            losses["G_A_all"] = c.gamma_mixed * self.criterion_gan(
                self.D_A_all(self._noisy(self.fake_B)), True)
            losses["G_B_all"] = c.gamma_mixed * self.criterion_gan(
                self.D_B_all(self._noisy(self.fake_A)), True)
        if c.lambda_identity > 0:
            losses["idt_A"] = c.lambda_identity * self.criterion_cycle(
                self.G_A(self.real_B), self.real_B)
            losses["idt_B"] = c.lambda_identity * self.criterion_cycle(
                self.G_B(self.real_A), self.real_A)
        total = sum(losses.values())
        total.backward()
        return losses

    def backward_D_basic(self, net: torch.nn.Module, real: torch.Tensor,
                         fake: torch.Tensor) -> torch.Tensor:
        """Least-squares loss of one discriminator on a real and a (pooled, detached) fake
        batch, halved so D learns at half G's pace as in the CycleGAN paper."""
        loss = 0.5 * (self.criterion_gan(net(self._noisy(real)), True)
                      + self.criterion_gan(net(self._noisy(fake.detach())), False))
        loss.backward()
        return loss

    def optimize_parameters(self) -> dict[str, float]:
        """One step: generators first (discriminators frozen), then discriminators."""
        self.forward()
        set_requires_grad(self.discriminators, False)  # D gets no gradient from G's loss
        self.optimizer_G.zero_grad(set_to_none=True)
        g_losses = self.backward_G()
        self.optimizer_G.step()

        set_requires_grad(self.discriminators, True)
        self.optimizer_D.zero_grad(set_to_none=True)
        fake_B = self.fake_B_pool.query(self.fake_B)
        fake_A = self.fake_A_pool.query(self.fake_A)
        d_losses = {
            "D_A": self.backward_D_basic(self.D_A, self.real_B, fake_B),
            "D_B": self.backward_D_basic(self.D_B, self.real_A, fake_A),
        }
        if self.config.use_mixed_discriminators:
            d_losses["D_A_all"] = self.backward_D_basic(self.D_A_all, self.mixed, fake_B)
            d_losses["D_B_all"] = self.backward_D_basic(self.D_B_all, self.mixed, fake_A)
        self.optimizer_D.step()
        self.step += 1
        out = {k: float(v.detach()) for k, v in {**g_losses, **d_losses}.items()}
        out["cycle"] = out["cycle_A"] + out["cycle_B"]
        return out

    # -- inference --------------------------------------------------------------------------
    def generator_for(self, source: str, target: str) -> torch.nn.Module:
        """The generator that turns ``source`` style into ``target`` style."""
        c = self.config
        if (source, target) == (c.style_a, c.style_b):
            return self.G_A
        if (source, target) == (c.style_b, c.style_a):
            return self.G_B
        raise KeyError(f"this model transfers {c.style_a}<->{c.style_b}, not {source}->{target}")

    # -- checkpoints ----------------------------------------------------------------------
    def networks(self) -> dict[str, torch.nn.Module]:
        nets = {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}
        if self.config.use_mixed_discriminators:
            nets.update(D_A_all=self.D_A_all, D_B_all=self.D_B_all)
        return nets

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every network's weights, keyed ``<network>.<parameter>``."""
        return {f"{name}.{k}": v.detach().cpu().contiguous()
                for name, net in self.networks().items()
                for k, v in net.state_dict().items()}

    def optimizer_tensors(self) -> dict[str, torch.Tensor]:
        """Adam's moments and step counts, keyed ``opt_G.<index>.<name>`` (to resume)."""
        tensors = {}
        for oname, opt in (("opt_G", self.optimizer_G), ("opt_D", self.optimizer_D)):
            for idx, st in opt.state_dict()["state"].items():
                for key, val in st.items():
                    tensors[f"{oname}.{idx}.{key}"] = torch.as_tensor(val).detach().cpu()
        return tensors

    def load_optimizer_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for oname, opt in (("opt_G", self.optimizer_G), ("opt_D", self.optimizer_D)):
            sd = opt.state_dict()
            state: dict[int, dict[str, torch.Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(oname + "."):
                    _, idx, key = k.split(".", 2)
                    state.setdefault(int(idx), {})[key] = v.to(self.device)
            if state:
                sd["state"] = state
                opt.load_state_dict(sd)

    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        """Write ``model.safetensors`` (all networks) and ``config.json`` (the config, the
        step count, the generators' hashes and ``extra``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "model.safetensors.tmp"
        save_file(self.state_tensors(), str(tmp))
        tmp.replace(directory / "model.safetensors")  # a reader never sees half a file
        meta = {"config": asdict(self.config), "step": self.step,
                "generator_hashes": {"G_A": generator_hash(self.G_A),
                                     "G_B": generator_hash(self.G_B)},
                "torch": torch.__version__}
        meta.update(extra or {})
        (directory / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> CycleGANModel:
        """Rebuild a model from ``directory`` alone (config.json + model.safetensors)."""
        directory = Path(directory)
        meta = json.loads((directory / "config.json").read_text())
        model = cls(CycleGANConfig.from_json(meta["config"]), device)
        tensors = load_file(str(directory / "model.safetensors"))
        for name, net in model.networks().items():
            prefix = name + "."
            net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                 if k.startswith(prefix)})
        model.step = int(meta.get("step", 0))
        model.meta = meta
        return model

    def eval(self) -> CycleGANModel:
        for net in self.networks().values():
            net.eval()
        return self

    def train(self) -> CycleGANModel:
        for net in self.networks().values():
            net.train()
        return self


def generator_hash(net: torch.nn.Module) -> str:
    """A short, stable fingerprint of a generator's weights: the model version recorded with
    every transferred Track."""
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]
