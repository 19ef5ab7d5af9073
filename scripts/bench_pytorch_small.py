#!/usr/bin/env python3
"""PyTorch eager doing what `dnlts bench` times, on the CPU, for the scaled profiles.

The networks are defined here as src/models/ builds them: the classifiers (LeNet-5, AlexNet,
VGG16-BN, Inception v3, ResNet-50) scaled at `--width-divisor`, SegNet as the small profile's AE
(`--ae-width-divisor 4 --ae-stages 1`), and the steps mirror the library's:

  pretrain            SegNet in training mode, MSE to its input, Adam step (lr 0.01)
  train-classifier X  classifier in training mode, cross-entropy, SGD (momentum 0.9, wd 5e-4;
                      AlexNet: Adam 1e-3, as ClassifyConfig::recipe)
  finetune X          encoder eval without a graph, decoder training, frozen classifier in
                      eval mode, cross-entropy, SGD step on the decoder (momentum 0.9)
  evaluate            one batch through 7 views (x and 6 AEs) × 5 classifiers without a graph,
                      top-1 and top-5 counted per pair (what Table 2's pass does)

Each step ends with the loss or counts read on the host, as dnlts does; timings are the median
of --steps steps after --warmup, in ms/step and img/s as `dnlts bench` prints them.

    python3 scripts/bench_pytorch_small.py [--threads 2] [--steps 3] [--channels-last]
    python3 scripts/bench_pytorch_small.py --compare target/release/dnlts [--rounds 3]
    python3 scripts/bench_pytorch_small.py --fold-ab --threads 1

--compare first checks that every network here has the parameters and forward
multiply-accumulates `DNLTS models --json` reports for it, then runs `DNLTS bench --json` and
this script --rounds times each, alternating, each in a process of its own (so that neither
side's OpenMP threads are alive while the other is timed), and prints per stage the medians and the ratio
dnlts speed / PyTorch speed (above 1: dnlts is faster). --fold-ab times what folding the
frozen classifier's batch norm saves (docs/performance.md, "Speed on a CPU"). Needs torch 2.11.0 (dnlts'
libtorch).
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
LETTERS = {"L": "lenet5", "A": "alexnet", "V": "vgg16_bn", "I": "inception_v3", "R": "resnet50"}
# The starting learning rates of src/train/classify.rs::learning_rate (they do not change the
# cost of a step; kept so that the step is the same one).
LEARNING_RATES = {"L": 0.05, "V": 0.1, "I": 0.1, "R": 0.05}


class Normalize(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std

    def undo(self, x):
        return x * self.std + self.mean


def conv_bn_relu(c_in, c_out, kernel, stride=1, padding=None, bias=True, eps=1e-5):
    if padding is None:
        padding = tuple(k // 2 for k in kernel) if isinstance(kernel, tuple) else kernel // 2
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias),
        nn.BatchNorm2d(c_out, eps=eps),
        nn.ReLU(),
    )


# ---- SegNet (src/models/segnet.rs) ----

STAGE_CONVS = [2, 2, 3, 3, 3]
STAGE_WIDTHS = [64, 128, 256, 512, 512]


def segnet_stages(image_size):
    """SegNetConfig::for_image_size: pool down to an 8×8 bottleneck, at least one stage."""
    stages = 0
    while stages < len(STAGE_WIDTHS) and image_size >> (stages + 1) >= 8:
        stages += 1
    return max(stages, 1)


class SegNet(nn.Module):
    def __init__(self, divisor, stages):
        super().__init__()
        width = [max(w // divisor, 1) for w in STAGE_WIDTHS]
        self.normalize = Normalize()
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        c_in = 3
        for stage in range(stages):
            layers = []
            for _ in range(STAGE_CONVS[stage]):
                layers.append(conv_bn_relu(c_in, width[stage], 3))
                c_in = width[stage]
            self.encoder.append(nn.Sequential(*layers))
        for stage in reversed(range(stages)):
            below = width[max(stage - 1, 0)]
            convs = STAGE_CONVS[stage]
            layers = [
                conv_bn_relu(width[stage], below if conv == 1 else width[stage], 3)
                for conv in range(convs, 0, -1)
            ]
            self.decoder.append(nn.Sequential(*layers))
        self.conv_final = nn.Conv2d(width[0], 3, 1)

    def encode(self, x):
        traces = []
        for stage in self.encoder:
            x = stage(x)
            size = x.shape[-2:]
            x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            traces.append((indices, size))
        return x, traces

    def decode(self, x, traces):
        for stage, (indices, size) in zip(self.decoder, reversed(traces)):
            x = stage(F.max_unpool2d(x, indices, 2, 2, output_size=size))
        return self.conv_final(x)

    def forward(self, images, encoder_trains=True):
        x = self.normalize(images)
        if encoder_trains:
            code, traces = self.encode(x)
        else:
            with torch.no_grad():
                code, traces = self.encode(x)
        return self.normalize.undo(self.decode(code, traces))


# ---- Classifiers (src/models/{lenet,alexnet,vgg,inception,resnet}.rs, scaled) ----


class LeNet5(nn.Module):
    def __init__(self, size, classes):
        super().__init__()
        side = ((size - 4) // 2 - 4) // 2
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2 = nn.Linear(16 * side * side, 120), nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class AlexNet(nn.Module):
    def __init__(self, divisor, classes):
        super().__init__()
        w1, w2, w3, w4, w5 = (w // divisor for w in [64, 192, 384, 256, 256])
        hidden = 4096 // divisor
        pool = nn.MaxPool2d(3, 2)
        self.features = nn.Sequential(
            nn.Conv2d(3, w1, 5, 2, 2), nn.ReLU(), pool,
            nn.Conv2d(w1, w2, 5, padding=2), nn.ReLU(), pool,
            nn.Conv2d(w2, w3, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w3, w4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w4, w5, 3, padding=1), nn.ReLU(), pool,
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(w5, hidden), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class Vgg16Bn(nn.Module):
    def __init__(self, divisor, classes):
        super().__init__()
        layers, c_in = [], 3
        for width in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]:
            if width == 0:
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn_relu(c_in, width // divisor, 3))
                c_in = width // divisor
        self.features = nn.Sequential(*layers)
        hidden = 4096 // divisor
        self.classifier = nn.Sequential(
            nn.Linear(c_in, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def basic(c_in, c_out, kernel, stride=1, padding=0):
    return conv_bn_relu(c_in, c_out, kernel, stride, padding, bias=False, eps=1e-3)


def avg_pool_3x3(x):
    return F.avg_pool2d(x, 3, 1, 1)


class Branches(nn.Module):
    """Runs each branch on the input and concatenates along channels."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class Lambda(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def seq(*layers):
    return nn.Sequential(*layers)


def inception_a(c_in, pool, w):
    module = Branches(
        basic(c_in, w(64), 1),
        seq(basic(c_in, w(48), 1), basic(w(48), w(64), 5, padding=2)),
        seq(basic(c_in, w(64), 1), basic(w(64), w(96), 3, padding=1),
            basic(w(96), w(96), 3, padding=1)),
        seq(Lambda(avg_pool_3x3), basic(c_in, w(pool), 1)),
    )
    return module, w(64) + w(64) + w(96) + w(pool)


def inception_b(c_in, w):
    module = Branches(
        basic(c_in, w(384), 3, stride=2),
        seq(basic(c_in, w(64), 1), basic(w(64), w(96), 3, padding=1),
            basic(w(96), w(96), 3, stride=2)),
        nn.MaxPool2d(3, 2),
    )
    return module, w(384) + w(96) + c_in


def inception_c(c_in, c7, w):
    c7, out = w(c7), w(192)
    module = Branches(
        basic(c_in, out, 1),
        seq(basic(c_in, c7, 1), basic(c7, c7, (1, 7), padding=(0, 3)),
            basic(c7, out, (7, 1), padding=(3, 0))),
        seq(basic(c_in, c7, 1), basic(c7, c7, (7, 1), padding=(3, 0)),
            basic(c7, c7, (1, 7), padding=(0, 3)), basic(c7, c7, (7, 1), padding=(3, 0)),
            basic(c7, out, (1, 7), padding=(0, 3))),
        seq(Lambda(avg_pool_3x3), basic(c_in, out, 1)),
    )
    return module, 4 * out


def inception_d(c_in, w):
    module = Branches(
        seq(basic(c_in, w(192), 1), basic(w(192), w(320), 3, stride=2)),
        seq(basic(c_in, w(192), 1), basic(w(192), w(192), (1, 7), padding=(0, 3)),
            basic(w(192), w(192), (7, 1), padding=(3, 0)), basic(w(192), w(192), 3, stride=2)),
        nn.MaxPool2d(3, 2),
    )
    return module, w(320) + w(192) + c_in


def inception_e(c_in, w):
    c384, c448 = w(384), w(448)
    pair = lambda: Branches(  # noqa: E731 - the 1×3 and 3×1 halves of a factorised 3×3
        basic(c384, c384, (1, 3), padding=(0, 1)), basic(c384, c384, (3, 1), padding=(1, 0))
    )
    module = Branches(
        basic(c_in, w(320), 1),
        seq(basic(c_in, c384, 1), pair()),
        seq(basic(c_in, c448, 1), basic(c448, c384, 3, padding=1), pair()),
        seq(Lambda(avg_pool_3x3), basic(c_in, w(192), 1)),
    )
    return module, w(320) + 4 * c384 + w(192)


class InceptionV3(nn.Module):
    def __init__(self, divisor, classes):
        super().__init__()
        w = lambda channels: channels // divisor  # noqa: E731
        layers = [
            basic(3, w(32), 3, stride=2, padding=1),
            basic(w(32), w(32), 3, padding=1),
            basic(w(32), w(64), 3, padding=1),
            basic(w(64), w(80), 1),
            basic(w(80), w(192), 3, padding=1),
        ]
        c = w(192)
        modules = [lambda c: inception_a(c, 32, w), lambda c: inception_a(c, 64, w),
                   lambda c: inception_a(c, 64, w), lambda c: inception_b(c, w)]
        modules += [lambda c, c7=c7: inception_c(c, c7, w) for c7 in [128, 160, 160, 192]]
        modules += [lambda c: inception_d(c, w), lambda c: inception_e(c, w),
                    lambda c: inception_e(c, w)]
        for make in modules:
            module, c = make(c)
            layers.append(module)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.fc(F.dropout(x, 0.5, self.training))


def conv_bn(c_in, c_out, kernel, stride=1):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)
    )


class Bottleneck(nn.Module):
    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = 4 * width
        self.residual = nn.Sequential(
            conv_bn(c_in, width, 1), nn.ReLU(),
            conv_bn(width, width, 3, stride), nn.ReLU(),
            conv_bn(width, c_out, 1),
        )
        self.downsample = (
            conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        )

    def forward(self, x):
        return F.relu(self.residual(x) + self.downsample(x))


class ResNet50(nn.Module):
    def __init__(self, divisor, classes):
        super().__init__()
        base = 64 // divisor
        layers, c_in = [conv_bn(3, base, 3), nn.ReLU()], base
        for stage, count in enumerate([3, 4, 6, 3]):
            width = base << stage
            for block in range(count):
                layers.append(Bottleneck(c_in, width, 2 if stage > 0 and block == 0 else 1))
                c_in = 4 * width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class Classifier(nn.Module):
    """A network behind the normalisation, as dnlts' Classifier::logits runs it."""

    def __init__(self, net):
        super().__init__()
        self.normalize, self.net = Normalize(), net

    def forward(self, images):
        return self.net(self.normalize(images))


def classifier(letter, divisor, size, classes):
    nets = {
        "L": lambda: LeNet5(size, classes),
        "A": lambda: AlexNet(divisor, classes),
        "V": lambda: Vgg16Bn(divisor, classes),
        "I": lambda: InceptionV3(divisor, classes),
        "R": lambda: ResNet50(divisor, classes),
    }
    return Classifier(nets[letter]())


# ---- The steps ----


class Setup:
    def __init__(self, args):
        self.args = args
        self.batch, self.size, self.classes = args.batch_size, args.image_size, args.classes

    def images(self):
        x = torch.rand(self.batch, 3, self.size, self.size)
        return x.contiguous(memory_format=torch.channels_last) if self.args.channels_last else x

    def labels(self):
        return torch.arange(self.batch) % self.classes

    def segnet(self):
        return SegNet(self.args.ae_width_divisor, self.args.ae_stages or segnet_stages(self.size))

    def classifier(self, letter):
        return classifier(letter, self.args.width_divisor, self.size, self.classes)


def sgd_step(sgd, loss_of):
    """A training step as dnlts' driver runs it: zero the gradients, loss, backward, update,
    the loss read on the host."""

    def step():
        sgd.zero_grad()
        loss = loss_of()
        loss.backward()
        sgd.step()
        return loss.item()

    return step


def pretrain_step(setup):
    """The CPU profiles pre-train with Adam at 0.01 (suite/src/profile.rs, SMALL_AUTOENCODER)."""
    ae = setup.segnet().train()
    adam = torch.optim.Adam(ae.parameters(), lr=0.01)
    images = setup.images()
    return sgd_step(adam, lambda: F.mse_loss(ae(images), images))


def train_classifier_step(setup, letter):
    net = setup.classifier(letter).train()
    if letter == "A":  # ClassifyConfig::recipe: AlexNet trains with Adam at 1e-3
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    else:
        optimizer = torch.optim.SGD(
            net.parameters(), lr=LEARNING_RATES[letter], momentum=0.9, weight_decay=5e-4
        )
    images, labels = setup.images(), setup.labels()
    return sgd_step(optimizer, lambda: F.cross_entropy(net(images), labels))


def frozen(net):
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


def finetune_step(setup, letter):
    net = frozen(setup.classifier(letter))
    ae = setup.segnet()
    ae.encoder.eval().requires_grad_(False)
    ae.decoder.train()
    sgd = torch.optim.SGD(
        [p for name, p in ae.named_parameters() if not name.startswith("encoder")],
        lr=0.01, momentum=0.9,
    )
    images, labels = setup.images(), setup.labels()
    return sgd_step(sgd, lambda: F.cross_entropy(net(ae(images, encoder_trains=False)), labels))


def top_k_correct(logits, labels, k):
    top = logits.topk(min(k, logits.shape[1]), 1).indices
    return int((top == labels.unsqueeze(1)).any(1).sum().item())


def evaluate_step(setup):
    nets = [frozen(setup.classifier(letter)) for letter in LETTERS]
    ae = frozen(setup.segnet())

    def step():
        # dnlts' evaluation makes each batch inside the pass (here: random images).
        images, labels = setup.images(), setup.labels()
        correct = 0
        with torch.no_grad():
            for view in range(7):
                seen = images if view == 0 else ae(images, encoder_trains=False)
                for net in nets:
                    logits = net(seen)
                    correct += top_k_correct(logits, labels, 1) + top_k_correct(logits, labels, 5)
        return correct

    return step


def stages(setup):
    """(stage name as dnlts bench prints it, step maker), in dnlts bench's order."""
    yield "pretrain", lambda: pretrain_step(setup)
    for letter in LETTERS:
        yield f"train-classifier {letter}", lambda letter=letter: train_classifier_step(setup, letter)
    for letter in LETTERS:
        yield f"finetune {letter}", lambda letter=letter: finetune_step(setup, letter)
    yield "evaluate", lambda: evaluate_step(setup)


def median_step_seconds(step, warmup, steps):
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[len(seconds) // 2]


def bench(args):
    torch.manual_seed(args.seed)
    setup = Setup(args)
    results = []
    for name, make in stages(setup):
        seconds = median_step_seconds(make(), args.warmup, args.steps)
        results.append({"stage": name, "step_seconds": seconds,
                        "images_per_second": args.batch_size / seconds})
    return results


def print_table(title, rows):
    print(title)
    print(f"{'stage':<20} {'step ms':>10} {'img/s':>10}")
    for row in rows:
        print(f"{row['stage']:<20} {row['step_seconds'] * 1e3:>10.1f} "
              f"{row['images_per_second']:>10.1f}")


# ---- Checks against `dnlts models` and the side-by-side comparison ----


def forward_macs(model, size):
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.rand(1, 3, size, size))
    return counter.get_total_flops() // 2


def check_models(dnlts, args):
    """Every network here has the parameters and forward MACs dnlts reports for it."""
    listed = json.loads(subprocess.run([dnlts, "models", "--json"], check=True,
                                       capture_output=True, text=True).stdout)
    scale = {"scaled": {"width_divisor": args.width_divisor, "image_size": args.image_size}}
    theirs = {m["name"]: (m["parameters"], m["forward_macs"]) for m in listed
              if m["scale"] == scale}
    setup = Setup(args)
    ours = {"segnet": setup.segnet()}
    ours.update({LETTERS[letter]: setup.classifier(letter) for letter in LETTERS})
    wrong = []
    for name, model in ours.items():
        mine = (sum(p.numel() for p in model.parameters()), forward_macs(model, args.image_size))
        if theirs.get(name) != mine:
            wrong.append(f"{name}: here {mine}, dnlts models {theirs.get(name)}")
        print(f"{name:<14} parameters {mine[0]:>9,}  forward MACs {mine[1]:>12,}  "
              f"{'same as dnlts' if theirs.get(name) == mine else 'DIFFERENT'}")
    if wrong:
        sys.exit("the PyTorch networks differ from dnlts':\n  " + "\n  ".join(wrong))


def common_options(args):
    options = ["--threads", str(args.threads), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--batch-size", str(args.batch_size)]
    return options + (["--channels-last"] if args.channels_last else [])


def dnlts_layout(args):
    """dnlts' bench runs the profile's layout unless told: `small` is channels-last, so the
    NCHW comparison must ask for NCHW."""
    return ["--channels-last"] if args.channels_last else ["--nchw"]


def own_process(args, *words):
    """This script run again in a process of its own, with the options of this one: each side
    of the comparison runs alone, never beside the other's OpenMP threads (spinning or asleep,
    they change what the other measures)."""
    command = [sys.executable, __file__, *words, *common_options(args),
               "--seed", str(args.seed), "--width-divisor", str(args.width_divisor),
               "--ae-width-divisor", str(args.ae_width_divisor), "--ae-stages",
               str(args.ae_stages), "--image-size", str(args.image_size),
               "--classes", str(args.classes)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def compare(args):
    dnlts = args.compare
    print(own_process(args, "--check-models", dnlts), end="")
    dnlts_runs, torch_runs = [], []
    for _ in range(args.rounds):
        options = [o for o in common_options(args) if o != "--channels-last"]
        run = subprocess.run([dnlts, "bench", "--profile", args.profile, "--json"]
                             + options + dnlts_layout(args),
                             check=True, capture_output=True, text=True)
        if json.loads(run.stdout)["channels_last"] != args.channels_last:
            sys.exit("dnlts bench ran another layout than the one asked for")
        dnlts_runs.append({s["stage"]: s["step_seconds"] for s in json.loads(run.stdout)["stages"]})
        rows = json.loads(own_process(args, "--json"))
        torch_runs.append({r["stage"]: r["step_seconds"] for r in rows})
    layout = ", channels-last" if args.channels_last else ""
    print(f"\nprofile {args.profile}, batch {args.batch_size}, {args.threads} thread(s){layout}; "
          f"median of {args.steps} step(s) per run, median over {args.rounds} alternating run(s), "
          f"each side in its own process")
    print(f"{'stage':<20} {'dnlts ms':>10} {'PyTorch ms':>11} {'dnlts/PyTorch speed':>20}")
    for stage in torch_runs[0]:
        ours = statistics.median(run[stage] for run in dnlts_runs)
        theirs = statistics.median(run[stage] for run in torch_runs)
        print(f"{stage:<20} {ours * 1e3:>10.1f} {theirs * 1e3:>11.1f} {theirs / ours:>19.2f}×")


# ---- What folding batch norm saves, in one process ----


def fold_batch_norm(module):
    """Each Conv2d + BatchNorm2d pair as one convolution (eval mode), as dnlts' ConvBn runs a
    frozen unit."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for m in module.modules():
        if (isinstance(m, nn.Sequential) and len(m) >= 2 and isinstance(m[0], nn.Conv2d)
                and isinstance(m[1], nn.BatchNorm2d)):
            m[0], m[1] = fuse_conv_bn_eval(m[0], m[1]), nn.Identity()
    return module


def fold_ab(args, repeats=7):
    """The fine-tuning step through V, I, R with the frozen classifier's batch norm as such and
    folded, steps interleaved; thread CPU time (exact for --threads 1, robust to other
    processes) and wall time, medians."""
    import copy

    setup = Setup(args)
    for letter in "VIR":
        torch.manual_seed(args.seed)
        plain = frozen(setup.classifier(letter))
        with torch.no_grad():  # statistics that make the fold non-trivial
            for m in plain.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_var.uniform_(0.5, 1.5)
                    m.running_mean.uniform_(-0.1, 0.1)
        variants = {"BN": plain, "folded": fold_batch_norm(copy.deepcopy(plain))}
        images, labels = setup.images(), setup.labels()
        ae = setup.segnet()
        ae.encoder.eval().requires_grad_(False)
        steps = {}
        for name, net in variants.items():
            own = copy.deepcopy(ae)
            decoder = [p for n, p in own.named_parameters() if not n.startswith("encoder")]
            sgd = torch.optim.SGD(decoder, lr=0.01, momentum=0.9)
            steps[name] = sgd_step(sgd, lambda net=net, own=own: F.cross_entropy(
                net(own(images, encoder_trains=False)), labels))
            steps[name]()
        cpu, wall = {name: [] for name in steps}, {name: [] for name in steps}
        for _ in range(repeats):
            for name, step in steps.items():
                cpu_start, wall_start = time.thread_time(), time.perf_counter()
                step()
                cpu[name].append(time.thread_time() - cpu_start)
                wall[name].append(time.perf_counter() - wall_start)
        ms = {name: 1e3 * statistics.median(cpu[name]) for name in steps}
        print(f"finetune {letter}: thread CPU ms/step BN {ms['BN']:.0f}, folded "
              f"{ms['folded']:.0f} (folded/BN {ms['folded'] / ms['BN']:.2f}); wall ms "
              f"{1e3 * statistics.median(wall['BN']):.0f} vs "
              f"{1e3 * statistics.median(wall['folded']):.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--profile", default="small",
                        help="with --compare: the profile dnlts benches (its sizes must be "
                             "--width-divisor and --image-size)")
    parser.add_argument("--width-divisor", type=int, default=8)
    parser.add_argument("--ae-width-divisor", type=int, default=4,
                        help="the AE's width divisor (the small profile's: 4)")
    parser.add_argument("--ae-stages", type=int, default=1,
                        help="the AE's pooling stages (the small profile's: 1; 0: as "
                             "SegNetConfig::for_image_size)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--compare", metavar="DNLTS", help="the dnlts binary to compare with")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true",
                        help="print the step times as JSON (what --compare reads)")
    parser.add_argument("--check-models", metavar="DNLTS",
                        help="only check the networks against DNLTS models --json")
    parser.add_argument("--fold-ab", action="store_true",
                        help="time the fine-tuning step with the classifier's batch norm folded "
                             "and not, interleaved in this process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.fold_ab:
        fold_ab(args)
    elif args.check_models:
        check_models(args.check_models, args)
    elif args.json:
        print(json.dumps(bench(args)))
    elif args.compare:
        compare(args)
    else:
        layout = ", channels-last" if args.channels_last else ""
        print_table(f"PyTorch {torch.__version__} eager, CPU, {args.threads} thread(s){layout}, "
                    f"batch {args.batch_size}; median of {args.steps} step(s) after "
                    f"{args.warmup} warm-up", bench(args))


if __name__ == "__main__":
    main()
