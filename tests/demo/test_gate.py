"""The validation layer in front of every endpoint: values of the wrong type, over raw HTTP
and through gradio_client, get the same one-line message naming the input and what it
takes; nothing reaches Gradio's generic "has not enabled verbose error reporting"."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from gradio_client.exceptions import AppError

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

GENERIC = "verbose error reporting"

WRONG_TYPES = [
    ("count as text", "/sample", ["mnist-tiny", 0, "abc", 1.0, -1],
     r"count_value \(Count\) must be a whole number from 1 to 64, got 'abc' \(text\)"),
    ("temperature as an object", "/sample", ["mnist-tiny", 0, 4, {"t": 1}, -1],
     r"temperature_value \(Temperature\) must be a number from 0 to 2, got \{'t': 1\} \(an object\)"),
    ("model as a list", "/sample", [["mnist-tiny"], 0, 4, 1.0, -1],
     r"model \(Model\) must be one of 'mnist-tiny', 'rgb-tiny', got \['mnist-tiny'\] \(a list\)"),
    ("seed 1.5 is not rounded", "/sample", ["mnist-tiny", 1.5, 4, 1.0, -1],
     r"seed_value \(Seed\) must be a whole number from 0 to 2147483647, got 1.5"),
    ("seed as numeric text", "/sample", ["mnist-tiny", "7", 4, 1.0, -1],
     r"seed_value \(Seed\) must be a whole number .*got '7' \(text\)"),
    ("seed true", "/sample", ["mnist-tiny", True, 4, 1.0, -1],
     r"seed_value \(Seed\) must be a whole number .*got true \(a boolean\)"),
    ("label true", "/sample", ["mnist-tiny", 0, 4, 1.0, True],
     r"label_value \(Class\) must be a number or text .*got true \(a boolean\)"),
    ("label as a list", "/sample", ["mnist-tiny", 0, 4, 1.0, [3]],
     r"label_value \(Class\) must be a number or text .*got \[3\] \(a list\)"),
    ("count NaN-like text", "/sample", ["mnist-tiny", 0, "nan", 1.0, -1],
     r"count_value \(Count\) must be a whole number from 1 to 64, got 'nan'"),
    ("sketch as text", "/reconstruct_sketch", ["mnist-tiny", "a string", -1],
     r"sketch_value \(Your drawing\) must be a sketchpad value .*got 'a string' \(text\)"),
    ("sketch with an unknown key", "/reconstruct_sketch", ["mnist-tiny", {"pixels": [1, 2]}, -1],
     r"sketch_value \(Your drawing\) must be a sketchpad value"),
    ("upload as text", "/reconstruct", ["mnist-tiny", "a string", -1],
     r"path \(Your picture\) must be an image file: \{\"path\": PATH_OR_URL.*handle_file.*got 'a string'"),
    ("upload as a number", "/reconstruct", ["mnist-tiny", 5, -1],
     r"path \(Your picture\) must be an image file.*got 5"),
    ("example index as a list", "/reconstruct_example", ["mnist-tiny", [1], -1],
     r"index \(Example index\) must be a whole number, got \[1\] \(a list\)"),
    ("example index 2.5", "/reconstruct_example", ["mnist-tiny", 2.5, -1],
     r"index \(Example index\) must be a whole number, got 2.5"),
    ("steps as text", "/interpolate", ["mnist-tiny", 0, None, 1, None, "x", "linear", -1],
     r"steps_value \(Steps\) must be a whole number from 2 to 24, got 'x' \(text\)"),
    ("method as a number", "/interpolate", ["mnist-tiny", 0, None, 1, None, 5, 3, -1],
     r"method_value \(Path through the latent space\) must be one of 'linear', 'spherical', got 3"),
    ("example A as an object", "/interpolate", ["mnist-tiny", {"i": 0}, None, 1, None, 5, "linear", -1],
     r"a_index \(Image A\) must be a number or text .*got \{'i': 0\} \(an object\)"),
    ("z1 as text", "/explore", ["mnist-tiny", "a", 0, -1], r"a \(z1\) must be a number from .*got 'a' \(text\)"),
    ("z2 far beyond the plane", "/explore", ["mnist-tiny", 0, 1e308, -1], r"b \(z2\) must be a number from .*got 1e\+308"),
    ("sketch file without Gradio's tag", "/reconstruct_sketch",
     ["mnist-tiny", {"background": None, "layers": [], "composite": {"path": "/etc/hostname"}}, -1],
     r"sketch_value \(Your drawing\) must be a sketchpad value .*each FILE \{\"path\": PATH_OR_URL, \"meta\""),
    ("too many values", "/sample", ["mnist-tiny", 0, 4, 1.0, -1, "normal", 7],
     r"/sample takes 6 values \(model \(Model\), seed_value \(Seed\), .*label_value \(Class\), .*\), got 7"),
]


def raw_call(url: str, endpoint: str, data: list) -> tuple[str, object]:
    """One call over plain HTTP (no client): ("complete", data) or ("error", message)."""
    body = json.dumps({"data": data}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call{endpoint}", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call{endpoint}/{event}", timeout=60) as r:
        stream = r.read().decode()
    kind = re.findall(r"^event: (\w+)", stream, re.M)[-1]
    payload = json.loads(re.findall(r"^data: (.*)$", stream, re.M)[-1])
    return kind, payload["error"] if kind == "error" else payload


@pytest.mark.parametrize("case, endpoint, data, message", WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_a_wrong_type_gets_the_same_named_message_over_http_and_gradio_client(
        served, client, case, endpoint, data, message):
    url, _ = served
    kind, text = raw_call(url, endpoint, data)
    assert kind == "error" and text, f"{case}: raw HTTP got {kind} {text!r}"
    assert re.search(message, text), f"{case}: raw HTTP said {text!r}"
    assert "\n" not in text and GENERIC not in text
    with pytest.raises(AppError) as info:
        client.predict(*data, api_name=endpoint)
    assert str(info.value) == text, "gradio_client shows the raw API's message"


def test_a_raw_call_without_the_optional_label_takes_its_listed_default(served, client):
    """view_api() calls the class "not required": a raw call without it works as the
    client's does (the client fills in the same default)."""
    url, _ = served
    kind, data = raw_call(url, "/sample", ["mnist-tiny", 3, 4, 1.0])
    assert kind == "complete", data
    path, text = data
    assert "4 samples, seed 3" in text
    with_label = raw_call(url, "/sample", ["mnist-tiny", 3, 4, 1.0, -1])[1]
    assert path["path"] == with_label[0]["path"], "the same picture as with the label -1"


def test_a_raw_call_without_a_required_input_names_it(served):
    url, _ = served
    kind, text = raw_call(url, "/reconstruct", ["mnist-tiny"])
    assert kind == "error"
    assert re.search(r"/reconstruct: path \(Your picture\) is missing and has no default; send "
                     r"the 3 values in this order: model \(Model\), path \(Your picture\), label", text), text


def test_handlers_refuse_a_boolean_where_a_number_belongs(served):
    """The Python API (no Gradio in between) refuses true as a class or a seed as well."""
    from vaekit.demo.handlers import Handlers

    _, models = served
    h = Handlers(models)
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to \d+, got True"):
        h.sample("mnist-tiny", True, 4, 1.0)
    with pytest.raises(ValueError, match=r"temperature must be a number from 0.0 to 3.0, got False"):
        h.sample("mnist-tiny", 0, 4, False)
    with pytest.raises(ValueError, match=r"mnist-tiny is not conditional: leave the class at -1"):
        h.sample("mnist-tiny", 0, 4, 1.0, True)
    with pytest.raises(ValueError, match=r"model must be a name, one of mnist-tiny, rgb-tiny; got \['mnist-tiny'\]"):
        h.sample(["mnist-tiny"], 0, 4, 1.0)


def test_the_rules_read_off_the_components():
    """Each rule comes from its component's own range and choices (one source)."""
    import gradio as gr
    from vaekit.demo.gate import Rule, rule_for

    seed = rule_for(gr.Number(minimum=0, maximum=9, precision=0), "seed")
    assert seed == Rule("seed", "whole", 0, 9, empty_ok=True)
    z = rule_for(gr.Slider(-3, 3, step=0.01), "z")
    assert z.kind == "number" and (z.lo, z.hi) == (-3, 3)
    assert rule_for(gr.Radio(["a", "b"]), "m").choices == ("a", "b")
    assert rule_for(gr.Textbox(), "t") is None, "no rule: the component is not a demo input"
    with pytest.raises(gr.Error, match=r"seed must be a whole number from 0 to 9, got 10"):
        seed.check(10)
    seed.check(None)  # empty: the handler says what is missing
    seed.check(4.0)  # a whole number written as a float is a whole number


def test_a_file_the_visitor_did_not_upload_is_one_named_line(served):
    """Over raw HTTP a path on the server is refused by Gradio; the refusal still names the
    endpoint in one line instead of {"error": null}."""
    url, _ = served
    kind, text = raw_call(url, "/reconstruct", ["mnist-tiny", {"path": "/etc/hostname",
                                                               "meta": {"_type": "gradio.FileData"}}, -1])
    assert kind == "error" and text.startswith("/reconstruct: an input could not be read ("), text
    assert "/etc/hostname" in text and "\n" not in text and GENERIC not in text


def test_a_validation_error_is_summed_up_in_one_line():
    from pydantic import BaseModel, ValidationError
    from vaekit.demo.gate import summary

    class Point(BaseModel):
        x: int

    with pytest.raises(ValidationError) as info:
        Point(x="abc")
    assert summary(info.value).startswith("x: Input should be a valid integer")
    assert summary(ValueError("first\nFor further information visit https://x")) == "first"
