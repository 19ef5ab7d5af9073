#!/usr/bin/env python3
"""Makes fixtures/models/: what the Rust models are checked against, without shipping weights.

For torchvision's AlexNet, VGG16-BN, ResNet-50 and Inception v3, and for the SegNet of Palacio
et al. (written below in plain PyTorch from the published architecture and layer names):
  <name>.keys.tsv   every state-dict entry (name, shape), num_batches_tracked left out
  fidelity.json     outputs for a fixed input after every tensor is filled with the formula
                    `fill` below, which tests/models.rs implements identically in Rust.
Needs torch==2.11.0 and torchvision (e.g. in a virtualenv). Run from the repository root:
    python3 scripts/model_fixtures.py
"""
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

OUT = Path("fixtures/models")
PRIME = 10007


def fnv1a(name: str) -> int:
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = ((h ^ byte) * 0x100000001B3) % (1 << 64)
    return h


def fill(name: str, shape) -> torch.Tensor:
    """Deterministic values of (name, flat index): u in [0, 1) scaled by the tensor's role."""
    numel = math.prod(shape)
    index = torch.arange(numel, dtype=torch.float64)
    u = torch.remainder(torch.remainder(index, PRIME) * (2654435761 % PRIME) + fnv1a(name) % PRIME, PRIME) / PRIME
    if name.endswith("running_var"):
        values = 0.5 + u
    elif name.endswith("running_mean"):
        values = (u - 0.5) * 0.2
    elif len(shape) == 1 and name.endswith("weight"):
        values = 0.5 + u
    elif len(shape) == 1:
        values = (u - 0.5) * 0.2
    else:
        fan_in = numel // shape[0]
        values = (u - 0.5) * 2.0 * math.sqrt(6.0 / fan_in)
    return values.to(torch.float32).reshape(shape)


def fixed_input(shape) -> torch.Tensor:
    index = torch.arange(math.prod(shape), dtype=torch.float64)
    return (torch.remainder(index * 7919, 1000) / 1000).to(torch.float32).reshape(shape)


class SegNet(nn.Module):
    """VGG16-BN encoder with pooling indices, mirrored decoder, 1x1 conv to RGB (the authors'
    names), taking [0, 1] RGB: ImageNet normalisation in, undone on the output."""

    STAGES = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = nn.Module(), nn.Module()
        c_in = 3
        for s, (convs, width) in enumerate(self.STAGES, 1):
            for i in range(1, convs + 1):
                setattr(self.encoder, f"conv{s}{i}", nn.Conv2d(c_in, width, 3, 1, 1))
                setattr(self.encoder, f"bn{s}{i}", nn.BatchNorm2d(width))
                c_in = width
        for s, (convs, width) in reversed(list(enumerate(self.STAGES, 1))):
            below = self.STAGES[max(s - 2, 0)][1]
            for i in range(convs, 0, -1):
                out = below if i == 1 else width
                setattr(self.decoder, f"conv{s}{i}d", nn.Conv2d(width, out, 3, 1, 1))
                setattr(self.decoder, f"bn{s}{i}d", nn.BatchNorm2d(out))
        self.decoder.conv_final = nn.Conv2d(64, 3, 1)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        trace = []
        for s, (convs, _) in enumerate(self.STAGES, 1):
            for i in range(1, convs + 1):
                x = F.relu(getattr(self.encoder, f"bn{s}{i}")(getattr(self.encoder, f"conv{s}{i}")(x)))
            size = x.shape[-2:]
            x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            trace.append((indices, size))
        for s, (convs, _) in reversed(list(enumerate(self.STAGES, 1))):
            indices, size = trace[s - 1]
            x = F.max_unpool2d(x, indices, 2, 2, output_size=size)
            for i in range(convs, 0, -1):
                x = F.relu(getattr(self.decoder, f"bn{s}{i}d")(getattr(self.decoder, f"conv{s}{i}d")(x)))
        return self.decoder.conv_final(x) * self.std + self.mean


MODELS = {
    "alexnet": (lambda: torchvision.models.alexnet(weights=None), [1, 3, 224, 224]),
    "vgg16_bn": (lambda: torchvision.models.vgg16_bn(weights=None), [1, 3, 224, 224]),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None), [1, 3, 224, 224]),
    "inception_v3": (
        lambda: torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False),
        [1, 3, 299, 299],
    ),
    "segnet": (SegNet, [1, 3, 72, 96]),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    fidelity = {"formula": "see scripts/model_fixtures.py: fill() and fixed_input()", "models": {}}
    for name, (make, input_shape) in MODELS.items():
        model = make().eval()
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        lines = [f"{key}\t{list(tensor.shape)}" for key, tensor in state.items()]
        (OUT / f"{name}.keys.tsv").write_text("\n".join(lines) + "\n")
        with torch.no_grad():
            model.load_state_dict({k: fill(k, list(v.shape)) for k, v in state.items()}, strict=False)
            output = model(fixed_input(input_shape)).flatten().double()
        fidelity["models"][name] = {
            "input_shape": input_shape,
            "parameters": sum(p.numel() for p in model.parameters()),
            "output_len": output.numel(),
            "first": output[:8].tolist(),
            "sum": output.sum().item(),
            "abs_sum": output.abs().sum().item(),
        }
        print(name, fidelity["models"][name]["parameters"], output[:3].tolist())
    fidelity["models"]["tiny_scripted"] = export_tiny_scripted()
    (OUT / "fidelity.json").write_text(json.dumps(fidelity, indent=2) + "\n")


class Tiny(nn.Module):
    """A user's classifier stand-in for the TorchScript path: conv, pool, linear, 10 classes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1))


def export_tiny_scripted():
    model = Tiny().eval()
    with torch.no_grad():
        model.load_state_dict({k: fill(k, list(v.shape)) for k, v in model.state_dict().items()})
        scripted = torch.jit.script(model)
        scripted.save(str(OUT / "tiny_scripted.pt"))
        output = scripted(fixed_input([2, 3, 16, 16])).flatten().double()
    return {
        "input_shape": [2, 3, 16, 16],
        "parameters": sum(p.numel() for p in model.parameters()),
        "output_len": output.numel(),
        "first": output[:8].tolist(),
        "sum": output.sum().item(),
        "abs_sum": output.abs().sum().item(),
    }


if __name__ == "__main__":
    main()
