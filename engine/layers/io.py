"""Input and Output: the two ends of every network."""
from engine.layers.common import fmt_shape
from engine.fixes import insert_fix
from engine.registry import LayerKind, ParamSpec, ShapeError, register


def _input_shape(p, ins):
    return (p["channels"], p["height"], p["width"])


def _output_shape(p, ins):
    (shape,) = ins
    classes = p["classes"]
    if len(shape) != 1:
        raise ShapeError(f"Output expects class scores of shape ({classes},) but receives {fmt_shape(shape)}; "
                         f"insert Flatten and a Linear layer with {classes} outputs", insert_fix("Flatten"))
    if shape[0] != classes:
        raise ShapeError(f"Output expects {classes} class scores but receives {shape[0]}; "
                         f"insert a Linear layer with {classes} outputs",
                         insert_fix("Linear", {"out_features": classes}, label=f"Insert Linear ({classes} outputs)",
                                    adjustable=("out_features",)))
    return shape


register(LayerKind(
    name="Input", category="Input/Output", glyph="▭",
    help="The images fed to the network: channels × height × width.",
    teaching="Every network starts with its input: a stack of images. A grey image has one channel, a "
             "colour image three (red, green, blue). Each later layer turns this tensor into a new one.",
    params=(ParamSpec("channels", "int", 1, "1 for grey images, 3 for colour.", 1, 64),
            ParamSpec("height", "int", 28, "Image height in pixels.", 1, 4096),
            ParamSpec("width", "int", 28, "Image width in pixels.", 1, 4096)),
    min_inputs=0, max_inputs=0, infer=_input_shape, build=None, emit=None,
    summary=lambda p: f"{p['channels']}×{p['height']}×{p['width']}",
))

register(LayerKind(
    name="Output", category="Input/Output", glyph="◎",
    help="The class scores (logits) the network predicts; trained with cross-entropy loss.",
    teaching="The output holds one score per class. Training pushes the score of the right class up and "
             "the others down; the highest score is the prediction.",
    params=(ParamSpec("classes", "int", 10, "Number of classes to predict.", 1, 100000),),
    infer=_output_shape, build=None, emit=None,
    summary=lambda p: f"{p['classes']} classes",
))
