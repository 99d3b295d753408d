"""What every section starts from, in the build and wherever its code runs again: the seeds, the CPU
threads, the device and the float precision.

The worker seeds and sets precision with this code before every section; a lecture's .py download and
its notebook begin with `prelude()`, so a reader re-running them starts where the build did. The
importer and the checks read the same patterns of seeding and drawing random numbers.
"""

from __future__ import annotations

import random
import re
import sys

from lecturebuild.model import Lecture

PRELUDE = '''\
import torch
torch.set_num_threads({threads})  # as many CPU threads as the build gave each section: results depend on it
{device}
{precision}

def lecturebuild_seed(seed={seed}):
    """The seeding the build applies before every section, so a re-run reproduces its numbers."""
    import random, sys
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    import torch
    torch.manual_seed(seed)
'''

DEVICE_LINE = {
    "cpu": 'device = torch.device("cpu")  # the build ran on the CPU; torch.device("cuda") runs this on a GPU',
    "cuda": 'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the build ran on CUDA',
}

# Float32 math on CUDA for each `precision:` of a lecture. These switches work in every torch 2.x;
# torch 2.9's fp32_precision settings make reading them back raise, which teaching code may do.
PRECISION = {
    "default": "",
    "highest": "# precision: highest, as in the build: float32 throughout, no TF32 on the GPU\n"
               "torch.backends.cuda.matmul.allow_tf32 = False\ntorch.backends.cudnn.allow_tf32 = False\n",
    "high": "# precision: high, as in the build: TF32 in matmuls and cuDNN on the GPU\n"
            "torch.backends.cuda.matmul.allow_tf32 = True\ntorch.backends.cudnn.allow_tf32 = True\n",
}


def precision_code(precision: str) -> str:
    """The code that sets a lecture's float precision; the worker runs it before every section."""
    return PRECISION[precision]


def prelude(lecture: Lecture, device: str) -> str:
    """Code that puts a fresh interpreter or kernel in the state the build started each section from."""
    return PRELUDE.format(seed=lecture.seed, threads=lecture.threads, device=DEVICE_LINE.get(device, DEVICE_LINE["cpu"]),
                          precision=precision_code(lecture.precision))


def seed_everything(seed: int, device: str = "cpu") -> None:
    random.seed(seed)
    if (numpy := sys.modules.get("numpy")) is not None:
        numpy.random.seed(seed)
    if (torch := sys.modules.get("torch")) is not None:
        if device == "cpu":
            # What torch.manual_seed does on a machine without accelerators, minus queueing lazy
            # CUDA/XPU seeding, which captures a stack trace: 3 ms a call.
            torch.default_generator.manual_seed(seed)
        else:
            torch.manual_seed(seed)


# Code that seeds the random generators, and code that draws from them (new layers draw their weights).
# Calls that seed the global generators (a torch.Generator of one's own, `torch.Generator().manual_seed(0)` or
# `g.manual_seed(0)`, seeds only itself, and is not one of these).
SEEDS = re.compile(r"(?:\btorch(?:\.cuda)?\.manual_seed(?:_all)?|(?<![\w.])manual_seed|\b(?:np|numpy)\.random\.seed"
                   r"|(?<![\w.])random\.seed|(?<![\w.])seed|\bset_seed|\bseed_everything)\s*\(")
DRAWS_RANDOM = re.compile(
    r"\brand(?:n|int|perm)?(?:_like)?\s*\(|\b(?:normal|bernoulli|multinomial|poisson|random_split|dropout\w*"
    r"|choice|permutation|shuffle|sample)\s*\(|(?:normal|uniform|random|bernoulli|exponential|cauchy|geometric)_\s*\("
    r"|\brandom\.|\bnn\.(?:Lazy)?(?:Linear|Bilinear|Conv\w*|RNN\w*|LSTM\w*|GRU\w*|Embedding\w*|MultiheadAttention"
    r"|Transformer\w*|Dropout\w*|AlphaDropout|Sequential)\s*\(|\bshuffle\s*=\s*True")
