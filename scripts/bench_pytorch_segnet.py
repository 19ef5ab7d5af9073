#!/usr/bin/env python3
"""Times the step `cargo bench --bench models` times as segnet/forward_backward/scaled/8/32px/batch64
(SegNet, widths / 8, five stages, 32×32, batch 64, MSE backward) in PyTorch eager, on the CPU,
with the same thread count, so the two can be compared on one machine.

    python3 scripts/bench_pytorch_segnet.py [--threads 2] [--steps 30]
Needs torch (2.11.0 to match dnlts' libtorch).
"""
import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

STAGES = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]


class ScaledSegNet(nn.Module):
    def __init__(self, divisor):
        super().__init__()
        widths = [w // divisor for _, w in STAGES]
        self.enc, self.dec = nn.ModuleList(), nn.ModuleList()
        c_in = 3
        for (convs, _), width in zip(STAGES, widths):
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
                c_in = width
            self.enc.append(nn.Sequential(*layers))
        for s in reversed(range(len(STAGES))):
            convs, width = STAGES[s][0], widths[s]
            below = widths[max(s - 1, 0)]
            layers = []
            for i in range(convs, 0, -1):
                out = below if i == 1 else width
                layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            self.dec.append(nn.Sequential(*layers))
        self.final = nn.Conv2d(widths[0], 3, 1)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        x = (x - self.mean) / self.std
        trace = []
        for stage in self.enc:
            x = stage(x)
            size = x.shape[-2:]
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            trace.append((idx, size))
        for stage, (idx, size) in zip(self.dec, reversed(trace)):
            x = stage(F.max_unpool2d(x, idx, 2, 2, output_size=size))
        return self.final(x) * self.std + self.mean


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ScaledSegNet(8).train()
    images = torch.rand(64, 3, 32, 32)
    for _ in range(3):
        F.mse_loss(model(images), images).backward()
    started = time.perf_counter()
    for _ in range(args.steps):
        F.mse_loss(model(images), images).backward()
    seconds = (time.perf_counter() - started) / args.steps
    print(f"pytorch eager segnet/8 32px batch64 forward+backward: {seconds * 1e3:.1f} ms/step, {64 / seconds:.0f} img/s")


if __name__ == "__main__":
    main()
