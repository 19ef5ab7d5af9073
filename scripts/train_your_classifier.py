#!/usr/bin/env python3
"""Train a classifier of your own on a profile's images in PyTorch and plug it into dnlts.

The round trip (docs/own-classifier.md):

    dnlts data export --profile small --split train --out data/small/train
    dnlts data export --profile small --split val   --out data/small/val
    python3 scripts/train_your_classifier.py data/small mine.pt
    dnlts reproduce --profile small --classifier mine=mine.pt,size=32

val/ is for choosing --epochs and settings: it is the validation split, which no table
reports. Never export the test split there: Tables 1-2 are computed on it, and a classifier
chosen on those images would be measured on what it was selected by.

dnlts hands a classifier [0, 1] RGB images of the profile's size, normalised with the
`mean=`/`std=` of its --classifier spec (ImageNet's by default), and reads one logit per
class; the class order is the sorted class folders of the export (folder k is label k), which
is the order torchvision's ImageFolder uses. So train on ToTensor() + Normalize(ImageNet)
and script the network alone, without the normalisation.

Needs torch and torchvision (CPU builds are enough: a few minutes on 2 cores for `small`).
Not run in CI.
"""

import argparse
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import datasets, transforms

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SmallNet(nn.Module):
    """Three conv blocks and a linear head: any H×W works (adaptive pooling)."""

    def __init__(self, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
        )
        self.head = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def loader(folder: str, shuffle: bool) -> torch.utils.data.DataLoader:
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
    data = datasets.ImageFolder(folder, transform=transform)
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=shuffle)


def accuracy(model: nn.Module, batches) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in batches:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / max(total, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "data", help="folder with train/ and val/ (the val split, not test) from `dnlts data export`"
    )
    parser.add_argument("out", help="TorchScript file to write (e.g. mine.pt)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    train, val = loader(f"{args.data}/train", True), loader(f"{args.data}/val", False)
    classes = len(train.dataset.classes)
    size = train.dataset[0][0].shape[-1]
    print(f"{len(train.dataset)} training images, {classes} classes, {size}×{size}")
    model = SmallNet(classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for epoch in range(args.epochs):
        model.train()
        started = time.time()
        for images, labels in train:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: val top-1 {accuracy(model, val):.4f} "
              f"({time.time() - started:.0f} s)")
    model.eval()
    scripted = torch.jit.script(model)
    scripted.save(args.out)
    print(f"wrote {args.out}; plug it in with:\n"
          f"  dnlts reproduce --profile PROFILE --classifier mine={args.out},size={size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
