"""The shipped course builds, and its built outputs state facts a reader can check independently."""

from __future__ import annotations

import base64
import json
import re

import nbformat
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def values(course, lecture, section):
    return json.loads((course / "build" / "results" / lecture / f"{section}.json").read_text())["values"]


def test_classifier_parameter_count_is_what_pytorch_counts(built_course):
    expected = sum(p.numel() for part in (nn.Embedding(10000, 128, padding_idx=0),
                                          nn.LSTM(128, 256, batch_first=True, bidirectional=True),
                                          nn.Linear(512, 2)) for p in part.parameters())
    assert values(built_course, "01_rnns_lstms", "classifier")["params"] == expected
    handout = (built_course / "build" / "markdown" / "01_rnns_lstms.md").read_text()
    assert f"Parameters: {expected:,}" in handout  # the printed output
    assert f"**{expected:,} parameters**" in handout  # the prose quotes the same run
    assert "2,111,234" not in handout  # the source document's hand-pasted claim


def test_bidirectional_outputs_are_twice_the_hidden_size(built_course):
    bilstm = values(built_course, "01_rnns_lstms", "bilstm")
    assert bilstm["out"]["__tensor__"]["shape"] == [4, 10, 2 * 64]
    assert bilstm["h_n"]["__tensor__"]["shape"] == [2 * 2, 4, 64]
    bidirectional = values(built_course, "02_vanilla_to_lstm", "bidirectional")
    assert bidirectional["out"]["__tensor__"]["shape"] == [4, 10, 128]
    assert bidirectional["final"]["__tensor__"]["shape"] == [4, 128]
    assert bidirectional["forward_final_is_last_step"] and bidirectional["backward_final_is_first_step"]


def test_padded_and_packed_shapes(built_course):
    packing = values(built_course, "02_vanilla_to_lstm", "packing")
    lengths = packing["lengths"]
    padded = nn.utils.rnn.pad_sequence([torch.ones(n) for n in lengths], batch_first=True)
    packed = nn.utils.rnn.pack_padded_sequence(torch.ones(len(lengths), max(lengths), 16), lengths,
                                               batch_first=True, enforce_sorted=False)
    assert packing["padded"]["__tensor__"]["shape"] == list(padded.shape)
    handout = (built_course / "build" / "markdown" / "02_vanilla_to_lstm.md").read_text()
    assert f"Packed data:       {tuple(packed.data.shape)}" in handout
    assert f"Packed batch_sizes: {packed.batch_sizes.tolist()}" in handout
    assert packing["real_tokens"] == sum(lengths) and packing["padded_cells"] == padded.numel()


def test_gru_from_scratch_matches_nn_gru(built_course):
    gru = values(built_course, "02_vanilla_to_lstm", "gru")
    assert gru["matches"] is True and gru["max_diff"] < 1e-5
    counts = {name: sum(p.numel() for p in layer(32, 64).parameters()) for name, layer in
              (("RNN", nn.RNN), ("GRU", nn.GRU), ("LSTM", nn.LSTM))}
    assert gru["layer_params"] == counts


def test_memory_task_models_take_one_feature(built_course):
    comparison = values(built_course, "02_vanilla_to_lstm", "comparison")
    assert set(comparison["grad_norms"]) == {"RNN", "LSTM", "GRU"}
    assert all(norm > 0 for norm in comparison["grad_norms"].values())


FIGURES = {"02_vanilla_to_lstm": {"LSTM sequence classifier: training curves",
                                  "Gradient reaching each time step (untrained models)"},
           "03_practice": {"Remembering the first input as sequences grow",
                           "LSTM gate activations for one sentence (forward direction)"}}


@pytest.mark.parametrize("lecture", sorted(FIGURES))
def test_every_figure_is_a_valid_png_in_every_format(built_course, lecture):
    build = built_course / "build"
    handout = (build / "markdown" / f"{lecture}.md").read_text()
    links = dict((alt, path) for alt, path in re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", handout))
    assert FIGURES[lecture] <= set(links)
    for path in links.values():
        assert (build / "markdown" / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (build / "html" / f"{lecture}.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"', page)
    assert FIGURES[lecture] <= {alt for _, alt in images}
    assert all(base64.b64decode(data)[:4] == b"\x89PNG" for data, _ in images)
    notebook = nbformat.read(build / "notebooks" / f"{lecture}.ipynb", as_version=4)
    pngs = [o.data["image/png"] for c in notebook.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "display_data"]
    assert len(pngs) == len(links) and all(base64.b64decode(p)[:4] == b"\x89PNG" for p in pngs)
