"""Building blocks of the style-transfer CycleGAN (after Brunner et al. 2018), behind two small
factories, ``define_G`` and ``define_D``, that raise on an unknown name.

Phrases are piano rolls of shape (N, C, 84, 64): 84 pitches (MIDI 24..107) by 64 grid steps
(4 bars at 4 steps per quarter). We keep both channels of the codec, C = 2 (0 = sounding,
1 = onset): the onset channel is *not* derivable from the sounding one (two repeated quarter
notes and one half note have the same sounding row), and repeated notes are the backbone of
folk and fiddle tunes, so the generator reads and writes both.

Sizes are chosen for CPU training (about 0.2 M parameters per generator) rather than the paper's
10 residual blocks at 256 channels; the structure is the paper's: convolutional encoder, residual
blocks, transposed-convolution decoder, and a PatchGAN discriminator trained with a least-squares
GAN loss.
"""

from __future__ import annotations

import torch
from torch import nn


class ResnetBlock(nn.Module):
    """conv-norm-relu-conv-norm with an identity shortcut; reflect padding keeps the edges of
    the pitch range from reading as silence."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Encoder (7x7 conv, two stride-2 convs) -> residual blocks -> decoder (two transposed
    convs, 7x7 conv) -> per-cell probabilities of the output roll.

    With ``input_skip`` the output logits get ``gain * (2x - 1)`` added, gain learnt and
    starting at 2: the generator starts near "copy the input" and learns the edits a style
    needs. This is our deviation from the paper, made because a few CPU minutes of training
    cannot also learn to rebuild every note from scratch; it helps the cycle loss and content
    retention, while the adversarial loss is still free to add, move or drop notes.
    """

    def __init__(self, in_channels: int = 2, out_channels: int = 2, ngf: int = 16,
                 n_blocks: int = 4, input_skip: bool = True):
        super().__init__()
        self.input_skip = input_skip
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=False),
            nn.InstanceNorm2d(ngf, affine=True),
            nn.ReLU(inplace=True),
        ]
        ch = ngf
        for _ in range(2):  # (N, ngf, 84, 64) -> (N, 4ngf, 21, 16)
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=False),
                       nn.InstanceNorm2d(ch * 2, affine=True), nn.ReLU(inplace=True)]
            ch *= 2
        layers += [ResnetBlock(ch) for _ in range(n_blocks)]
        for _ in range(2):  # back to (N, ngf, 84, 64)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=False),
                       nn.InstanceNorm2d(ch // 2, affine=True), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7)]
        self.body = nn.Sequential(*layers)
        self.skip_gain = nn.Parameter(torch.tensor(2.0)) if input_skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, 84, 64) in [0, 1] -> probabilities (N, C_out, 84, 64) in (0, 1)."""
        logits = self.body(x)
        if self.skip_gain is not None:
            logits = logits + self.skip_gain * (2.0 * x[:, : logits.shape[1]] - 1.0)
        return torch.sigmoid(logits)


class PatchDiscriminator(nn.Module):
    """PatchGAN: each output cell judges a patch of the roll (about 2 beats by an octave and a
    half), which is how the paper's discriminator sees local idiom rather than the whole
    phrase. Output (N, 1, 21, 16) of raw scores for the least-squares loss."""

    def __init__(self, in_channels: int = 2, ndf: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),  # (N, ndf, 42, 32)
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, stride=2, padding=1, bias=False),  # (N, 2ndf, 21, 16)
            nn.InstanceNorm2d(ndf * 2, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 3, padding=1),  # (N, 1, 21, 16)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class GANLoss(nn.Module):
    """Least-squares GAN loss (LSGAN): mean squared distance of the scores to 1 (real) or 0
    (fake); steadier than the log loss for small batches, as in the paper."""

    def forward(self, scores: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(scores) if target_is_real else torch.zeros_like(scores)
        return torch.mean((scores - target) ** 2)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Normal(0, 0.02) initialisation of conv weights, as in the CycleGAN paper."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


GENERATORS = ("resnet",)
DISCRIMINATORS = ("patch",)


def define_G(name: str, in_channels: int = 2, out_channels: int = 2, ngf: int = 16,
             n_blocks: int = 4, input_skip: bool = True) -> nn.Module:
    """Build and initialise a generator by name; raises ValueError for an unknown name."""
    if name == "resnet":
        net = ResnetGenerator(in_channels, out_channels, ngf, n_blocks, input_skip)
    else:
        raise ValueError(f"unknown generator {name!r}; known: {', '.join(GENERATORS)}")
    return init_weights(net)


def define_D(name: str, in_channels: int = 2, ndf: int = 32) -> nn.Module:
    """Build and initialise a discriminator by name; raises ValueError for an unknown name."""
    if name == "patch":
        net = PatchDiscriminator(in_channels, ndf)
    else:
        raise ValueError(f"unknown discriminator {name!r}; known: {', '.join(DISCRIMINATORS)}")
    return init_weights(net)
