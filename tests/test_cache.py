"""The per-section cache key: each input that can change a run changes it; prose never does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lecturebuild import cache
from lecturebuild.course import load_course
from lecturebuild.errors import DeviceError

ENV = cache.RunEnvironment(device="cpu", torch="2.13.0+cpu", python="3.11.7", executor="e1")



def keys(root: Path, env=ENV) -> dict[str, str]:
    return cache.lecture_keys(load_course(root).lectures[0], env)


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
    table = cache.lecture_inputs(lecture, ENV)
    assert cache.why(None, table["model"], sample_course) == "not run before"
    from lecturebuild.model import Device, SectionResult

    old = SectionResult(lecture="01_basics", section="training", key="old", inputs=dict(table["training"], torch="2.12.0"),
                        runs=(), values={}, device=Device("cpu", "", "", ""), seconds=0, finished="")
    assert cache.why(old, table["training"], sample_course) == "changed: torch 2.12.0 -> 2.13.0+cpu"
    old_code = dataclasses.replace(old, inputs=dict(table["training"], code="x", **{"needs model": "y"}))
    assert cache.why(old_code, table["training"], sample_course) == "changed: snippet code, needs model"


def test_cuda_is_refused_clearly_where_there_is_none(monkeypatch):
    monkeypatch.setattr(cache, "cuda_present", lambda: False)
    with pytest.raises(DeviceError, match="device 'cuda' was asked for, but this machine has no CUDA device"):
        cache.resolve_device("cuda")
    assert cache.resolve_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        cache.resolve_device("gpu")


def test_auto_picks_cuda_where_present(monkeypatch):
    monkeypatch.setattr(cache, "cuda_present", lambda: True)
    assert cache.resolve_device("auto") == "cuda"
    assert cache.resolve_device("cpu") == "cpu"
