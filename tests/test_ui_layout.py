"""The shared pieces of every view's look: result lines, text blocks, labels that read in full."""

from __future__ import annotations

import ipywidgets as widgets

from kmslab.ui import Panel, clipped_labels, pre_html, status_html


def test_a_long_label_at_the_default_width_is_found() -> None:
    cut = widgets.Button(description="Schedule deletion", icon="clock")
    short = widgets.Button(description="Enable", icon="check")
    roomy = widgets.Button(description="Schedule deletion", layout=widgets.Layout(width="auto"))
    found = clipped_labels(widgets.VBox([widgets.HBox([cut, short, roomy])]))
    assert len(found) == 1 and "'Schedule deletion'" in found[0] and "148 px" in found[0]


def test_descriptions_in_front_of_a_control_need_room() -> None:
    days = widgets.BoundedIntText(description="Days to advance")
    assert clipped_labels(days) and "80 px" in clipped_labels(days)[0]
    days.style.description_width = "initial"
    assert clipped_labels(days) == []
    assert clipped_labels(widgets.Dropdown(description="Key")) == []
    bar = widgets.IntProgress(description="kmslab bench")
    assert clipped_labels(bar)


def test_a_long_checkbox_needs_a_wider_layout() -> None:
    box = widgets.Checkbox(description="Change one bit of the message before verifying")
    assert clipped_labels(box)
    box.layout.width = "auto"
    assert clipped_labels(box) == []
    toggle = widgets.ToggleButton(description="Key store disconnected", icon="plug")
    toggle.layout.width = "180px"
    assert clipped_labels(toggle)


def test_html_and_labels_are_not_judged() -> None:
    text = "a long sentence that wraps by itself " * 5
    assert clipped_labels(widgets.VBox([widgets.HTML(value=text), widgets.Label(text)])) == []


def test_result_lines_say_their_word_and_wrap() -> None:
    assert "✔ <b>OK</b>: done" in status_html(True, "done")
    assert "✘ <b>Error</b>: boom" in status_html(False, "boom")
    wrong = status_html(False, "you answered (b)", "Not quite")
    assert "✘ <b>Not quite</b>: you answered (b)" in wrong and "Error" not in wrong
    assert 'role="status"' in wrong and "overflow-wrap:anywhere" in wrong
    panel = Panel()
    panel.show(True, "x" * 300, "Right")
    assert "<b>Right</b>" in panel.html.value and "pre-wrap" in panel.html.value


def test_text_blocks_wrap_or_scroll_but_never_overflow() -> None:
    table = pre_html("a  b\n1  2")
    assert "white-space:pre;" in table and "overflow-x:auto" in table
    code = pre_html('{"AWS": "arn:aws:iam::111122223333:user/myKeyManager"}', wrap=True)
    assert "white-space:pre-wrap" in code and "overflow-wrap:anywhere" in code
    titled = pre_html("<x>", title="policy.json")
    assert titled.startswith("<b>policy.json</b><pre") and "&lt;x&gt;" in titled
