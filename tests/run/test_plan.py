"""The per-section cache key: each input that can change a run changes it; prose never does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lecturebuild.course.load import load_course
from lecturebuild.errors import DeviceError
from lecturebuild.run import device, plan

ENV = plan.RunEnvironment(device="cpu", torch="2.13.0+cpu", python="3.11.7", executor="e1")



def keys(root: Path, env=ENV) -> dict[str, str]:
    return plan.lecture_keys(load_course(root).lectures[0], env)


def changed(before: dict, after: dict) -> set[str]:
    return {sid for sid in before if before[sid] != after[sid]}


def test_prose_edit_changes_no_key(sample_course):
    before = keys(sample_course)
    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("A batch of inputs:", "A batch of random inputs:"))
    assert keys(sample_course) == before


def test_snippet_edit_changes_that_section_and_those_that_need_it(sample_course):
    before = keys(sample_course)
    path = sample_course / "snippets" / "01_basics" / "model.py"
    path.write_text(path.read_text().replace("nn.Linear(3, 2)", "nn.Linear(3, 2, bias=False)"))
    assert changed(before, keys(sample_course)) == {"model", "training"}


def test_setup_edit_changes_every_key(sample_course):
    before = keys(sample_course)
    path = sample_course / "snippets" / "01_basics" / "setup.py"
    path.write_text(path.read_text() + "import math\n")
    assert changed(before, keys(sample_course)) == set(before)


def test_seed_edit_changes_every_key(sample_course):
    before = keys(sample_course)
    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("seed: 7", "seed: 8"))
    assert changed(before, keys(sample_course)) == set(before)


@pytest.mark.parametrize("field, value", [("device", "cuda"), ("torch", "2.14.0"), ("python", "3.12.1"),
                                          ("executor", "e2")])
def test_environment_changes_every_key(sample_course, field, value):
    before = keys(sample_course)
    after = keys(sample_course, dataclasses.replace(ENV, **{field: value}))
    assert changed(before, after) == set(before)


def test_why_names_the_changed_inputs(sample_course):
    lecture = load_course(sample_course).lectures[0]
    table = plan.lecture_inputs(lecture, ENV)
    assert plan.why(None, table["model"], sample_course) == "not run before"
    from lecturebuild.model import Device, SectionResult

    old = SectionResult(lecture="01_basics", section="training", key="old", inputs=dict(table["training"], torch="2.12.0"),
                        runs=(), values={}, device=Device("cpu", "", "", ""), seconds=0, finished="")
    assert plan.why(old, table["training"], sample_course) == "changed: torch 2.12.0 -> 2.13.0+cpu"
    old_code = dataclasses.replace(old, inputs=dict(table["training"], code="x", **{"needs model": "y"}))
    assert plan.why(old_code, table["training"], sample_course) == "changed: snippet code, needs model"


def test_cuda_is_refused_clearly_where_there_is_none(monkeypatch):
    monkeypatch.setattr(device, "cuda_present", lambda: False)
    with pytest.raises(DeviceError, match="device 'cuda' was asked for, but this machine has no CUDA device"):
        device.resolve_device("cuda")
    assert device.resolve_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        device.resolve_device("gpu")


def test_auto_picks_cuda_where_present(monkeypatch):
    monkeypatch.setattr(device, "cuda_present", lambda: True)
    assert device.resolve_device("auto") == "cuda"
    assert device.resolve_device("cpu") == "cpu"
