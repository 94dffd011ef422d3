"""A vaekit.json whose demo facts have the wrong type: one line naming the key and the fix,
never a TypeError from inside the demo (found by mutating every key of a contract)."""

from __future__ import annotations

import pytest
from vaekit.demo.facts import ModelFacts

CONTRACT = {"channels": 1, "height": 28, "width": 28, "latent_dim": 2, "checkpoint": "m"}


@pytest.mark.parametrize("framing", [{"method": []}, {"method": {}}, {"method": 3}, {"method": None}])
def test_a_framing_method_of_the_wrong_type_is_one_line(framing):
    with pytest.raises(ValueError, match=r"vaekit.json of m: framing method must be one of .*; re-export the model"):
        ModelFacts.from_contract({**CONTRACT, "framing": framing})


@pytest.mark.parametrize("background", [["dark"], {"x": 1}, 5])
def test_a_background_of_the_wrong_type_is_one_line(background):
    with pytest.raises(ValueError, match=r"background must be one of .*re-export the model"):
        ModelFacts.from_contract({**CONTRACT, "background": background})
