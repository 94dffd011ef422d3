"""What a model switch shows, tab by tab, and what the page opens on: without a server.

The models are stand-ins with the runtime VAE's API (a contract in ``metadata``, numpy in
and out), so these tests need neither ONNX Runtime sessions nor a browser.
"""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.demo import tab_explorer, tab_interpolate, tab_reconstruct
from vaekit.demo.app import TABS, build_app, opening_model
from vaekit.demo.handlers import ANY_CLASS, Handlers
from vaekit.demo.models import wrap_models
from vaekit.demo.tabs import Context, header_view
from vaekit.demo.widgets import PictureStore
from vaekit.format import PriorRecord

pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting")


class StandIn:
    """The runtime VAE's API over constant pictures; records the labels it was asked for."""

    folder = None
    providers = ["CPUExecutionProvider"]
    priors = ("normal",)
    default_prior = "normal"
    prior_record = PriorRecord()  # N(0, I)

    def __init__(self, **contract):
        self.metadata = {"channels": 1, "height": 28, "width": 28, "likelihood": "bernoulli",
                         "dataset": "test", **contract}
        self.labels = None

    @property
    def latent_dim(self) -> int:
        return int(self.metadata["latent_dim"])

    @property
    def image_shape(self):
        return tuple(self.metadata[k] for k in ("channels", "height", "width"))

    def encode(self, x, **labels):
        self.labels = labels.get("labels")
        z = np.zeros((len(x), self.latent_dim), np.float32)
        return z, z

    def decode(self, z, **labels):
        self.labels = labels.get("labels")
        return np.full((len(z), *self.image_shape), 0.5, np.float32)

    def sample(self, n, *, seed=None, temperature=1.0, **labels):
        images = self.decode(np.zeros((n, self.latent_dim)))
        self.labels = labels.get("labels")
        return images


@pytest.fixture
def ctx(tmp_path):
    models = wrap_models({
        "fashion-z16": StandIn(latent_dim=16, background="dark",
                               class_names=["T-shirt/top", "Trouser", "Sneaker"]),
        "digits-z2": StandIn(latent_dim=2, background="dark", class_names=[str(i) for i in range(10)]),
        "cond-z2": StandIn(latent_dim=2, num_classes=3, class_names=["a", "b", "c"]),
    })
    for m in models.values():
        m.prepare_explorer()
    return Context(handlers=Handlers(models), store=PictureStore(tmp_path))


def test_the_page_opens_on_a_model_whose_latent_is_a_plane(ctx):
    assert opening_model(ctx.handlers.models).name == "digits-z2"
    only = wrap_models({"faces": StandIn(latent_dim=64, channels=3)})
    assert opening_model(only).name == "faces", "no plane anywhere: the first model"


def test_switching_to_a_16d_model_hides_the_explorer_and_resets_it(ctx):
    models = ctx.handlers.models
    v = tab_explorer.view(models["fashion-z16"], ctx)
    assert v["panel"] == {"visible": False}, "no sliders that look usable and do nothing"
    assert v["z1"]["value"] == v["z2"]["value"] == 0.0 and v["details"]["value"] == ""
    assert v["decoded"]["value"] is None and v["plot"]["value"] is None
    assert "16-D latent" in v["note"]["value"]
    back = tab_explorer.view(models["digits-z2"], ctx)
    assert back["panel"] == {"visible": True} and back["z1"]["value"] == 0.0
    assert back["details"]["value"].startswith("z = (0.00, 0.00)"), "its own timing, fresh"
    for key in ("plot", "decoded"):
        assert back[key]["value"].endswith(".png")


@pytest.mark.parametrize("module", TABS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_model_resets_the_same_components(ctx, module):
    """The switch's outputs come from the first model's view: every model's view must name
    the same components, or Gradio would refuse the update."""
    keys = {tuple(module.view(m, ctx)) for m in ctx.handlers.models.values()}
    assert len(keys) == 1, keys


def test_the_draw_tab_speaks_of_the_models_classes(ctx):
    models = ctx.handlers.models
    note = tab_reconstruct.view(models["fashion-z16"], ctx)["draw_note"]["value"]
    assert "digit" not in note and "Draw one of: T-shirt/top, Trouser, Sneaker." in note
    assert "0, 1, 2" in tab_reconstruct.view(models["digits-z2"], ctx)["draw_note"]["value"]


def test_class_menu_only_for_a_conditional_model(ctx, tmp_path):
    models = ctx.handlers.models
    assert header_view(models["digits-z2"])["label"]["visible"] is False
    menu = header_view(models["cond-z2"])["label"]
    assert menu["visible"] is True and menu["value"] == ANY_CLASS
    assert [c[1] for c in menu["choices"]] == [ANY_CLASS, 0, 1, 2]
    assert [c[0] for c in menu["choices"][1:]] == ["a", "b", "c"]
    h, vae = ctx.handlers, models["cond-z2"].vae
    picture = h.sample("cond-z2", 0, 4, 1.0, 1)
    assert list(vae.labels) == [1, 1, 1, 1] and "of class b" in picture.details
    h.sample("cond-z2", 0, 4, 1.0, ANY_CLASS)
    assert list(vae.labels) == [0, 1, 2, 0], "every class in turn"
    h.sample("digits-z2", 0, 4, 1.0)
    assert models["digits-z2"].vae.labels is None, "an unconditional model gets no labels"
    with pytest.raises(ValueError, match="digits-z2 is not conditional: leave the class at -1"):
        h.sample("digits-z2", 0, 4, 1.0, 1)
    with pytest.raises(ValueError, match="class must be a whole number from -1 to 2"):
        h.sample("cond-z2", 0, 4, 1.0, 7)
    # the explorer decodes with the chosen class (its first by default)
    assert "class c" in h.explore("cond-z2", 0.5, 0.5, 2).details and vae.labels == 2
    assert "class a" in h.explore("cond-z2", 0.5, 0.5).details
    # an upload has no class of its own: with "any" it gets the class that fits it best
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "x.png")
    details = h.reconstruct("cond-z2", str(tmp_path / "x.png")).details
    assert "class a (the best fit of all classes" in details and vae.labels == 0
    assert "class b" in h.reconstruct("cond-z2", str(tmp_path / "x.png"), 1).details


def test_interpolate_choices_follow_the_model(ctx):
    v = tab_interpolate.view(ctx.handlers.models["digits-z2"], ctx)
    assert v["a_pick"] == {"choices": [], "value": None}, "no examples: nothing to pick"


def test_pictures_are_written_once_under_their_content(tmp_path):
    store = PictureStore(tmp_path)
    a = store(np.zeros((4, 4), np.uint8))
    assert store(np.zeros((4, 4), np.uint8)) == a, "the same picture: the same file"
    assert store(np.ones((4, 4), np.uint8)) != a
    assert sorted(p.name for p in store.folder.iterdir()) == sorted(
        {a.rsplit("/", 1)[1], store(np.ones((4, 4), np.uint8)).rsplit("/", 1)[1]})


def test_build_app_with_stand_ins(ctx):
    import gradio as gr

    assert isinstance(build_app(ctx.handlers.models, delete_cache=None), gr.Blocks)
