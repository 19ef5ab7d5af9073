#!/usr/bin/env python3
"""Exports PyTorch weights to safetensors files that dnlts loads as they are (needs torch,
torchvision and safetensors; run it where you have them, e.g. a GPU workstation).

    python3 scripts/export_weights.py torchvision alexnet vgg16_bn resnet50 inception_v3 --out weights/
    python3 scripts/export_weights.py segnet path/to/segnet.pth --out weights/segnet.safetensors

torchvision: downloads the ImageNet weights (`weights="DEFAULT"`, i.e. IMAGENET1K_V1 for the
models of the paper) and writes <name>.safetensors. `--random` writes untrained weights instead
(no download), which is how the test suite checks that the names line up.
segnet: a checkpoint of the authors' SegNet (a state dict, optionally under "state_dict" and
with DataParallel's "module." prefixes) keeps its names (`encoder.conv11.weight`, …).
"""
import argparse
from pathlib import Path

import torch
from safetensors.torch import save_file


def clean(state):
    state = state.get("state_dict", state)
    out = {}
    for key, tensor in state.items():
        key = key[len("module."):] if key.startswith("module.") else key
        out[key] = tensor.detach().cpu().contiguous()
    return out


def export_torchvision(names, out_dir: Path, random: bool):
    import torchvision

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        kwargs = {"weights": None if random else "DEFAULT"}
        if name == "inception_v3" and random:
            kwargs.update(aux_logits=True, init_weights=False)
        model = getattr(torchvision.models, name)(**kwargs)
        path = out_dir / f"{name}.safetensors"
        save_file(clean(model.state_dict()), str(path))
        print(f"wrote {path}")


def export_segnet(checkpoint: Path, out: Path):
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(clean(state), str(out))
    print(f"wrote {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="source", required=True)
    tv = sub.add_parser("torchvision")
    tv.add_argument("names", nargs="+", choices=["alexnet", "vgg16_bn", "resnet50", "inception_v3"])
    tv.add_argument("--out", type=Path, default=Path("weights"))
    tv.add_argument("--random", action="store_true", help="untrained weights, no download")
    seg = sub.add_parser("segnet")
    seg.add_argument("checkpoint", type=Path)
    seg.add_argument("--out", type=Path, default=Path("weights/segnet.safetensors"))
    args = parser.parse_args()
    if args.source == "torchvision":
        export_torchvision(args.names, args.out, args.random)
    else:
        export_segnet(args.checkpoint, args.out)


if __name__ == "__main__":
    main()
