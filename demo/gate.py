"""One validation layer in front of every endpoint of the demo.

Gradio decodes each input with its component before a handler runs, and a value of the
wrong type (``count "abc"``, ``temperature {"t": 1}``, ``model ["mnist-z2"]``, a string as
the sketch) fails there with Gradio's generic "has not enabled verbose error reporting"
(``{"error": null}`` over raw HTTP), which names nothing; a Number with ``precision=0``
rounds ``seed 1.5`` to 2 in silence. :func:`install` puts a check in front of that
decoding, so the browser, ``gradio_client`` and a raw HTTP call all get the same one-line
:class:`gradio.Error` naming the input and what it takes:

* each input is checked against a :class:`Rule` read off its component (the session's copy
  when the visitor's page changed it): type first (a bool is not a number), then range;
* a raw call that leaves out trailing inputs gets the defaults ``view_api()`` lists for
  them (what ``gradio_client`` sends), or a message naming the first one without a default;
  one with more values than the endpoint takes is refused;
* anything Gradio still cannot decode becomes a message naming the endpoint.

Values (an unknown model, a class the model lacks, an example index out of range) are
the handlers' to check: they know the model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr

WHOLE, NUMBER, CHOICE, SCALAR, FILE, SKETCH = "whole", "number", "choice", "scalar", "file", "sketch"
FILE_SHAPE = '{"path": PATH_OR_URL, "meta": {"_type": "gradio.FileData"}} (gradio_client: handle_file(path))'
SKETCH_KEYS = frozenset({"background", "layers", "composite", "id"})


def refuse(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


def kind_of(value: Any) -> str:
    """``value`` as a message shows it: its JSON spelling and type."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    names = {str: "text", list: "a list", tuple: "a list", dict: "an object"}
    return f"{text} ({names[type(value)]})" if type(value) in names else text


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_file(value: Any, *, tagged: bool = False) -> bool:
    """A FileData object: a non-empty ``path`` or ``url``; ``tagged``: with Gradio's
    ``meta`` tag too (what a file inside a sketchpad value needs to be taken as one)."""
    if not isinstance(value, dict) or not any(isinstance(value.get(k), str) and value[k] for k in ("path", "url")):
        return False
    return not tagged or value.get("meta") == {"_type": "gradio.FileData"}


def summary(error: Exception) -> str:
    """One line of what went wrong inside Gradio: pydantic's first message, else the last
    line that is not a pointer to its documentation."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return f"{'.'.join(map(str, first.get('loc', ()))) or 'value'}: {first.get('msg', '')}"
        except Exception:  # noqa: BLE001 - any shape of error list: fall back to the text
            pass
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.strip().startswith("For further information")]
    return lines[-1] if lines else type(error).__name__


def number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def short_label(label: str) -> str:
    """A component's label up to its first note: "Your drawing: pick the pen" -> "Your drawing"."""
    return re.split(r" \(|:| …", label, maxsplit=1)[0].strip() or label


def short_list(values: list[Any], most: int = 6) -> str:
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return ", ".join(shown if len(shown) <= most else [*shown[: most - 2], "...", shown[-1]])


@dataclass(frozen=True)
class Rule:
    """What one input takes: ``kind`` (:data:`WHOLE`, :data:`NUMBER`, :data:`CHOICE`,
    :data:`SCALAR`: text or a number typed into a menu, :data:`FILE`, :data:`SKETCH`),
    with its range or choices."""

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()
    empty_ok: bool = False  # None passes (the handler says what is missing)

    def allowed(self) -> str:
        if self.kind in (WHOLE, NUMBER):
            what = "a whole number" if self.kind == WHOLE else "a number"
            if self.lo is not None and self.hi is not None:
                return f"{what} from {number(self.lo)} to {number(self.hi)}"
            return what
        if self.kind == CHOICE:
            return f"one of {short_list(list(self.choices))}"
        if self.kind == SCALAR:
            return "a number or text (a value of its menu)"
        if self.kind == FILE:
            return f"an image file: {FILE_SHAPE}"
        return f'a sketchpad value {{"background": FILE, "layers": [FILE, ...], "composite": FILE}}, each FILE {FILE_SHAPE}'

    def check(self, value: Any) -> None:
        """Raise a one-line :class:`gradio.Error` when ``value`` does not fit."""
        if value is None and (self.empty_ok or self.kind in (SCALAR, FILE, SKETCH)):
            return
        if not self.fits(value):
            raise refuse(f"{self.name} must be {self.allowed()}, got {kind_of(value)}")

    def fits(self, value: Any) -> bool:
        if self.kind in (WHOLE, NUMBER):
            if not is_number(value) or (self.kind == WHOLE and value != int(value)):
                return False
            return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)
        if self.kind == CHOICE:
            return any(type(value) is type(c) and value == c for c in self.choices)
        if self.kind == SCALAR:
            return isinstance(value, str) or is_number(value)
        if self.kind == FILE:
            return is_file(value)
        layers = value.get("layers", []) if isinstance(value, dict) else None
        return (isinstance(value, dict) and set(value) <= SKETCH_KEYS
                and all(value.get(k) is None or is_file(value[k], tagged=True) for k in ("background", "composite"))
                and isinstance(layers, list) and all(is_file(v, tagged=True) for v in layers))


def rule_for(block: Any, name: str) -> Rule | None:
    """The rule of a component's input; None for components the demo does not take input from."""
    if isinstance(block, gr.Slider):
        whole = float(block.step).is_integer() and float(block.minimum).is_integer()
        return Rule(name, WHOLE if whole else NUMBER, block.minimum, block.maximum)
    if isinstance(block, gr.Number):
        return Rule(name, WHOLE if block.precision == 0 else NUMBER, block.minimum, block.maximum,
                    empty_ok=True)
    if isinstance(block, (gr.Dropdown, gr.Radio)):
        values = tuple(c[1] if isinstance(c, tuple) else c for c in block.choices)
        custom = getattr(block, "allow_custom_value", False)
        return Rule(name, SCALAR if custom else CHOICE, choices=values)
    if isinstance(block, gr.ImageEditor):
        return Rule(name, SKETCH)
    if isinstance(block, gr.Image):
        return Rule(name, FILE)
    return None


@dataclass(frozen=True)
class Parameter:
    """One input of an endpoint as ``view_api()`` lists it."""

    name: str
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True)
class Endpoint:
    """The inputs of one event listener: its components and their API names and defaults."""

    title: str  # "/sample", or the event's function name for a browser-only event
    blocks: tuple[Any, ...]
    parameters: tuple[Parameter, ...]

    def complete(self, inputs: list[Any]) -> list[Any]:
        """``inputs`` with the listed defaults for the trailing values a raw call left out."""
        n, names = len(self.blocks), ", ".join(p.name for p in self.parameters)
        if len(inputs) > n:
            raise refuse(f"{self.title} takes {n} values ({names}), got {len(inputs)}")
        for p in self.parameters[len(inputs):]:
            if not p.has_default:
                raise refuse(f"{self.title}: {p.name} is missing and has no default; send the "
                             f"{n} values in this order: {names}")
            inputs.append(p.default)
        return inputs

    def check(self, inputs: list[Any], state: Any) -> list[Any]:
        inputs = self.complete(list(inputs))
        for block, p, value in zip(self.blocks, self.parameters, inputs):
            current = state[block._id] if state is not None and block._id in state else block
            rule = rule_for(current, p.name)
            if rule is not None:
                rule.check(value)
        return inputs


def endpoints(app: gr.Blocks) -> dict[int, Endpoint]:
    """Every event listener of ``app`` by its id, with the names and defaults of its API."""
    info = app.get_api_info(all_endpoints=True)["named_endpoints"]
    out = {}
    for fn_id, fn in app.fns.items():
        blocks = tuple(fn.inputs)
        listed = info.get(f"/{fn.api_name}", {}).get("parameters", []) if fn.api_name else []
        labels = [str(getattr(b, "label", None) or f"input {i + 1}") for i, b in enumerate(blocks)]
        if len(listed) == len(blocks):
            params = tuple(Parameter(f"{p['parameter_name']} ({short_label(label)})",
                                     p["parameter_has_default"], p["parameter_default"])
                           for p, label in zip(listed, labels))
            title = f"/{fn.api_name}"
        else:  # browser-only events: every value comes with the page
            params = tuple(Parameter(label) for label in labels)
            title = getattr(fn.fn, "__name__", "this event")
        out[fn_id] = Endpoint(title, blocks, params)
    return out


def install(app: gr.Blocks) -> None:
    """Check every event's inputs before Gradio decodes them (see the module's docstring).

    Call it once the app's ``with gr.Blocks()`` block is closed (every event registered).
    """
    known = endpoints(app)
    decode = app.preprocess_data

    async def preprocess_data(block_fn, inputs, state, explicit_call=False):
        endpoint = known.get(getattr(block_fn, "_id", None))
        if endpoint is None or block_fn.batch:
            return await decode(block_fn, inputs, state, explicit_call)
        inputs = endpoint.check(inputs, state)
        try:
            return await decode(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as e:  # what the rules did not foresee: still one line, named
            raise refuse(f"{endpoint.title}: an input could not be read ({summary(e)}); "
                         "view_api() lists what each input takes") from None

    app.preprocess_data = preprocess_data  # type: ignore[method-assign]
