"""The facts the demo acts on come from the contract (vaekit.json), never from a dataset name;
an older export without them gets them derived from its own examples."""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.demo.facts import Framing, ModelFacts, derive_background, derive_framing

BASE = {"channels": 1, "height": 28, "width": 28, "latent_dim": 2, "dataset": "mnist"}


def digits(n: int = 40, box: int = 20) -> np.ndarray:
    """Light bars on black, ``box`` pixels tall, centred: MNIST-like examples."""
    images = np.zeros((n, 1, 28, 28), np.uint8)
    top = (28 - box) // 2
    for i in range(n):
        images[i, 0, top : top + box, 12 + i % 3 : 16 + i % 3] = 255
    return images


def test_contract_keys_are_used_as_written():
    contract = {**BASE, "dataset": "anything", "background": "dark",
                "framing": {"method": "ink-box", "box": 0.75, "centre": "box"},
                "class_names": ["a", "b"], "plottable": False, "num_classes": 2}
    f = ModelFacts.from_contract(contract)
    assert f.dark_background and f.framing == Framing(method="ink-box", box=0.75, centre="box")
    assert f.class_names == ("a", "b") and f.conditional and f.derived == ()
    assert not f.plottable, "the contract may say a 2-D latent is not a plane to draw"
    assert "one of: a, b" in f.subject()


def test_the_dataset_name_decides_nothing():
    """A model called 'mnist' whose contract says light background is treated as light."""
    f = ModelFacts.from_contract({**BASE, "background": "light", "framing": {"method": "centre-crop"}})
    assert not f.dark_background and f.framing.method == "centre-crop"


def test_missing_facts_are_derived_from_the_examples():
    f = ModelFacts.from_contract(BASE, example_images=digits(), example_classes=("0", "1"))
    assert f.background == "dark" and f.framing.method == "ink-box"
    assert f.framing.box == pytest.approx(20 / 28)
    assert f.class_names == ("0", "1") and f.plottable
    assert set(f.derived) == {"background", "framing", "class_names", "plottable"}
    bare = ModelFacts.from_contract({**BASE, "channels": 3, "latent_dim": 16})
    assert bare.background == "light" and bare.framing == Framing() and not bare.plottable
    assert "mnist images" in bare.subject()


def test_derivations_on_pixels():
    assert derive_background(digits()) == "dark"
    assert derive_background(255 - digits()) == "light"
    full = derive_framing(digits(box=28))
    assert full.box == 1.0


@pytest.mark.parametrize("key, value, message", [
    ("background", "grey", "background must be one of"),
    ("framing", {"method": "zoom"}, "framing method must be one of"),
    ("framing", {"method": "centre-crop", "box": 0.5}, "takes .*not \\['box'\\]"),
    ("framing", {"method": "centre-crop", "crop_fraction": 1.5}, r"crop_fraction must be a number in \(0, 1\]"),
    ("class_names", "0123", "class_names must be a list of strings"),
    ("num_classes", -1, "num_classes must be a whole number"),
])
def test_bad_contract_values_are_named(key, value, message):
    with pytest.raises(ValueError, match=message):
        ModelFacts.from_contract({**BASE, key: value})


def test_class_names_must_match_num_classes():
    with pytest.raises(ValueError, match="3 class_names for num_classes=2"):
        ModelFacts.from_contract({**BASE, "num_classes": 2, "class_names": ["a", "b", "c"]})
