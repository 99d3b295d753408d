"""Sections go on from the process that ran what they need, and print exactly what a fresh replay prints.

Every test builds a course with the real doit twice: as users build it, and with `reuse=no`, where each
section replays what it needs in a fresh process. A counter file outside the course records every
execution of a section's code, replays included, so the tests see which work was redone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import doit

SETUP = "import torch\nfrom torch import nn\nimport os\n\n\ndef count(name):\n" \
        "    with open(os.environ['COUNTS'], 'a') as f:\n        f.write(name + '\\n')\n"

CHAIN = {  # a lecture whose sections depend on each other as teaching code does
    "data": ("Data", "", "count('data')\nx = torch.randn(64, 3)\ny = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * "
             "torch.randn(64)\nopen('scale.txt', 'w').write('0.05')\nprint(x.mean().item())\n"),
    "model": ("Model", "data", "count('model')\nmodel = nn.Linear(3, 1)\nprint(model.weight)\n"),
    "train": ("Train", "model", "count('train')\nlr = float(open('scale.txt').read())\n"
              "optimizer = torch.optim.SGD(model.parameters(), lr=lr)\nfor step in range(30):\n"
              "    loss = ((model(x).squeeze(1) - y) ** 2).mean()\n    optimizer.zero_grad()\n    loss.backward()\n"
              "    optimizer.step()\nprint(f'loss {loss.item():.6f}', torch.rand(2))\n"),
    "evaluate": ("Evaluate", "train", "count('evaluate')\nwith torch.no_grad():\n"
                 "    print(model(x[:4]).squeeze(1), torch.randn(2))\n"),
    "plot": ("Plot", "train", "import matplotlib.pyplot as plt\nplt.plot(model(x).detach().squeeze(1)[:10])\n"
             "plt.show()\n"),
    "sibling": ("Sibling", "model", "count('sibling')\nmodel.weight.data.zero_()\nprint(model(x[:2]))\n"),
    "broken": ("Broken", "model", "raise RuntimeError('broken on purpose')\n"),
    "after_broken": ("After broken", "broken", "print('never')\n"),
}

SEQUENTIAL = {  # a notebook run top to bottom: one random stream through all sections
    "one": ("One", "", "count('one')\na = torch.rand(3)\nprint(a)\nos.makedirs('sub')\nos.chdir('sub')\n"
            "open('note.txt', 'w').write('kept')\n"),
    "two": ("Two", "", "count('two')\nb = torch.rand(2) + a[:2]\nprint(b, os.listdir('.'), os.path.basename(os.getcwd()))\n"),
    "three": ("Three", "", "count('three')\nprint(torch.randn(2), a.sum() + b.sum())\n"),
}


def write_lecture(root: Path, name: str, sections: dict, front: str = "") -> None:
    folder = root / "snippets" / name
    folder.mkdir(parents=True)
    (folder / "setup.py").write_text(SETUP)
    body = ""
    for sid, (title, needs, code, *attributes) in sections.items():
        (folder / f"{sid}.py").write_text(code)
        attributes = "".join(f" {a}" for a in [f"needs={needs}"] * bool(needs) + attributes)
        body += f"## {title} {{#{sid}{attributes}}}\n\n```{{snippet}} {sid}.py\n```\n\n"
    (root / "lectures").mkdir(exist_ok=True)
    order = len(list((root / "lectures").glob("*.md"))) + 1
    (root / "lectures" / f"{name}.md").write_text(
        f"---\ntitle: {name}\norder: {order}\nsummary: Sections that build on each other.\nsetup: setup.py\n"
        f"seed: 3\n{front}---\n{body}")


def build(root: Path, *args: str) -> tuple[dict, list[str], str]:
    """Build `root` with doit; (results by "lecture/section", every counted execution, stderr)."""
    counts = root.parent / f"{root.name}-counts.txt"  # outside the course: sections may not write there
    counts.unlink(missing_ok=True)
    result = doit(root, *args, env={"COUNTS": str(counts)})
    results = {f"{p.parent.name}/{p.stem}": json.loads(p.read_text())
               for p in (root / "build" / "results").glob("*/*.json") if "." not in p.stem}
    return results, counts.read_text().split() if counts.exists() else [], result.returncode, result.stderr


def printed(result: dict) -> list:
    """What a section showed: every output, figures by their content-named file, and its values."""
    return [[{k: v for k, v in output.items() if k != "seconds"} for output in run["outputs"]]
            for run in result["runs"]] + [result["values"], result["failure"]]


def both_ways(tmp_path: Path, name: str, sections: dict, front: str = "", *args: str):
    """The course built as users build it and with reuse=no, in two copies."""
    reused = tmp_path / "reused"
    write_lecture(reused, name, sections, front)
    fresh = tmp_path / "fresh"
    shutil.copytree(reused, fresh)
    return build(reused, *args), build(fresh, "reuse=no", *args)


def test_dependents_go_on_from_a_fork_and_print_what_a_fresh_replay_prints(tmp_path):
    (reused, counts, code, stderr), (fresh, fresh_counts, fresh_code, _) = both_ways(tmp_path, "chain", CHAIN)
    assert code == fresh_code != 0  # `broken` and `after_broken` fail either way
    assert reused.keys() == fresh.keys() and len(reused) == len(CHAIN) + 1
    for key in reused:
        assert printed(reused[key]) == printed(fresh[key]), key
    assert "failed when replayed, at snippets/chain/broken.py:1: RuntimeError" in reused["chain/after_broken"]["failure"]
    # Nothing ran twice: each section's code ran once, for itself; dependents went on from forks.
    assert sorted(counts) == ["data", "evaluate", "model", "sibling", "train"]
    assert reused["chain/evaluate"]["reused"] == ["_setup", "data", "model", "train"]
    assert reused["chain/sibling"]["reused"] == ["_setup", "data", "model"]
    assert "chain/evaluate: ok in" in stderr and "(went on from data, model, train, not run again)" in stderr
    # Without reuse every dependent replays what it needs.
    assert fresh_counts.count("data") == 8 and fresh_counts.count("model") == 7  # itself and its 6 dependents
    assert all(result["reused"] == [] for result in fresh.values())
    handouts = [(root / "build" / "markdown" / "chain.md") for root in (tmp_path / "reused", tmp_path / "fresh")]
    assert not any(path.exists() for path in handouts)  # a lecture with failed sections is not rendered


def test_a_sequential_lecture_goes_on_through_one_random_stream(tmp_path):
    (reused, counts, code, _), (fresh, fresh_counts, _, _) = both_ways(tmp_path, "seq", SEQUENTIAL,
                                                                        "sequential: true\n")
    assert code == 0
    for key in reused:
        assert printed(reused[key]) == printed(fresh[key]), key
    assert sorted(counts) == ["one", "three", "two"]
    assert sorted(fresh_counts) == ["one", "one", "one", "three", "two", "two"]
    assert reused["seq/three"]["reused"] == ["_setup", "one", "two"]
    assert "['note.txt'] sub" in reused["seq/two"]["runs"][0]["outputs"][0]["text"]  # where `one` left it


def test_where_a_fork_is_unsafe_the_process_itself_goes_on(tmp_path):
    # torch on two threads: OpenMP's thread pool would hang in a forked child, so the process that ran
    # a section runs the next one itself; a section that needs less than it holds replays in another.
    chain = {sid: CHAIN[sid] for sid in ("data", "model", "train", "evaluate", "sibling")}
    (reused, counts, code, _), (fresh, fresh_counts, _, _) = both_ways(tmp_path, "threads", chain,
                                                                        "threads: 2\n", "jobs=1")
    assert code == 0
    for key in reused:
        assert printed(reused[key]) == printed(fresh[key]), key
    assert reused["threads/evaluate"]["reused"] == ["_setup", "data", "model", "train"]
    assert reused["threads/sibling"]["reused"] == []  # the process holding `model` went on to `train`
    assert counts.count("data") == 2 and counts.count("model") == 2 and counts.count("train") == 1
    assert fresh_counts.count("data") == 5


@pytest.mark.gpu
def test_on_cuda_sections_start_in_warm_spares_and_dependents_go_on_in_the_same_process(tmp_path):
    chain = {sid: CHAIN[sid] for sid in ("data", "model", "train", "evaluate", "sibling")}
    chain["model"] = ("Model", "data", "count('model')\nprint(torch.cuda.is_initialized())\n"
                      "model = nn.Linear(3, 1).to(device)\nx, y = x.to(device), y.to(device)\nprint(model.weight)\n")
    (reused, counts, code, stderr), (fresh, _, fresh_code, _) = both_ways(tmp_path, "gpu", chain, "", "device=cuda")
    assert code == fresh_code == 0, stderr
    for key in reused:
        assert printed(reused[key]) == printed(fresh[key]), key
    assert reused["gpu/model"]["runs"][0]["outputs"][0]["text"].startswith("True")  # CUDA was up before it ran
    assert reused["gpu/evaluate"]["reused"] == ["_setup", "data", "model", "train"]
    assert reused["gpu/evaluate"]["device"]["kind"] == "cuda"


EDGES = {  # state that ties a process to its working folder, timers, limits: each shaped like teaching code
    "logs": ("Logs", "", "import logging\nlogging.basicConfig(filename='training.log', level=logging.INFO, "
             "format='%(message)s', force=True)\nlog = logging.getLogger('course')\nlog.info('data ready')\n"
             "metrics = open('metrics.csv', 'w', buffering=1)\nmetrics.write('step,loss\\n')\n"
             "from pathlib import Path\nCKPT = Path('checkpoints').resolve()\nCKPT.mkdir()\n"),
    "train": ("Train", "logs", "for step in range(3):\n    log.info(f'step {step}')\n    metrics.write(f'{step},1\\n')\n"
              "torch.save({'w': torch.ones(2)}, CKPT / 'model.pt')\n"
              "print(open('training.log').read(), open('metrics.csv').read(), sorted(os.listdir('checkpoints')))\n"),
    "fifo": ("Fifo", "", "os.mkfifo('pipe')\n"),
    "after_fifo": ("After fifo", "fifo", "print(sorted(os.listdir('.')))\n"),
    "alarm": ("Alarm", "", "import signal\n\ndef on_alarm(*args):\n    raise TimeoutError('alarm fired')\n\n"
              "signal.signal(signal.SIGALRM, on_alarm)\nsignal.alarm(2)\n"),
    "after_alarm": ("After alarm", "alarm", "import time\ntime.sleep(3)\nprint('slept')\n"),
    "capped": ("Capped", "", "small = torch.ones(10)\n", "memory_limit=300"),
    "uncapped": ("Uncapped", "capped", "big = torch.ones(400 * 2**20 // 4)\nprint(big.shape)\n"),
    "slow": ("Slow", "", "import time\ntime.sleep(2)\n"),
    "after_slow": ("After slow", "slow", "import time\ntime.sleep(2)\nprint('in time')\n"),
    "rebinds": ("Rebinds", "", "loss = 1000.5\nfor step in range(3):\n    t = torch.ones(3) * step\n"
                "    loss = loss / 2 + step\n"),
}


def test_state_tied_to_a_folder_timers_and_limits_behave_as_in_a_fresh_replay(tmp_path):
    (reused, _, _, _), (fresh, _, _, _) = both_ways(tmp_path, "edges", EDGES, "time_limit: 3.5\n")
    for key in fresh:
        assert printed(reused[key]) == printed(fresh[key]), key
    train = fresh["edges/train"]["runs"][0]["outputs"][0]["text"]
    assert "data ready\nstep 0\nstep 1\nstep 2" in train and "2,1" in train and "['model.pt']" in train
    assert "['pipe']" in fresh["edges/after_fifo"]["runs"][0]["outputs"][0]["text"]
    assert "alarm fired" in json.dumps(fresh["edges/after_alarm"])  # the replayed alarm fires in the dependent
    assert fresh["edges/uncapped"]["failure"] == "" and fresh["edges/after_slow"]["failure"] == ""
    assert {"loss", "t"} <= reused["edges/rebinds"]["values"].keys()


def test_a_sequential_lecture_keeps_pythons_random_stream_across_forks(tmp_path):
    sections = {"one": ("One", "", "import random\nprint(random.random())\n"),
                "two": ("Two", "", "print(random.random(), torch.rand(1))\n")}
    (reused, _, code, _), (fresh, _, _, _) = both_ways(tmp_path, "seqrandom", sections, "sequential: true\n")
    assert code == 0
    assert printed(reused["seqrandom/two"]) == printed(fresh["seqrandom/two"])
    assert reused["seqrandom/two"]["reused"] == ["_setup", "one"]
