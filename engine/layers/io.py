"""Input and Output: the two ends of every network."""
from engine.layers.common import fmt_shape
from engine.fixes import insert_fix
from engine.registry import LayerKind, ParamSpec, ShapeError, register


def _input_shape(p, ins):
    return (p["channels"], p["height"], p["width"])


def _output_shape(p, ins):
    (shape,) = ins
    c = p["classes"]
    task = p.get("task")
    if task == "segmentation":
        return _score_maps(shape, c, "A segmentation Output", f"a score map of shape ({c}, height, width), one score "
                           f"per class at every pixel", "score maps (one per class)")
    if task == "detection":
        return _score_maps(shape, c + 4, "A detection Output", f"maps of shape ({c + 4}, height, width): a heat map "
                           f"per class whose peaks are object centres, then the box's width, height and the centre's "
                           f"offset at every cell", f"maps ({c} heat maps and 4 for the boxes)")
    if task == "localization":
        return _flat_scores(shape, c + 4, "A localization Output", f"{c + 4} numbers ({c} class scores, then the "
                            f"box's centre x, y, width and height)", f"numbers ({c} class scores and 4 for the box)")
    return _flat_scores(shape, c, "Output", f"class scores of shape ({c},)", "class scores")


def _flat_scores(shape, want, who, expected, what):
    """One number per output: Flatten when maps arrive, a Linear with `want` outputs when the count is off."""
    if len(shape) != 1:
        raise ShapeError(f"{who} expects {expected} but receives {fmt_shape(shape)}; insert Flatten and a Linear "
                         f"layer with {want} outputs", insert_fix("Flatten"))
    if shape[0] != want:
        raise ShapeError(f"{who} expects {want} {what} but receives {shape[0]}; insert a Linear layer with {want} "
                         f"outputs", insert_fix("Linear", {"out_features": want}, label=f"Insert Linear ({want} outputs)",
                                                adjustable=("out_features",)))
    return shape


def _score_maps(shape, want, who, expected, what):
    """Maps at every position: a 1×1 Conv2d with `want` channels makes them from feature maps."""
    if len(shape) != 3:
        raise ShapeError(f"{who} expects {expected}, but receives {fmt_shape(shape)}; end the network with a 1×1 "
                         f"Conv2d of {want} channels on feature maps, not Flatten and Linear")
    if shape[0] != want:
        raise ShapeError(f"{who} expects {want} {what} but receives {shape[0]}; insert a 1×1 Conv2d with {want} "
                         f"output channels",
                         insert_fix("Conv2d", {"out_channels": want, "kernel_size": 1, "padding": 0},
                                    label=f"Insert 1×1 Conv2d ({want} channels)", adjustable=("out_channels",)))
    return shape


def _check_mask_size(p, shape, image_size):
    """A segmentation network labels every input pixel: its score maps have the Input's height and width."""
    if p.get("task") != "segmentation" or tuple(shape[1:]) == tuple(image_size):
        return
    (h, w), (mh, mw) = shape[1:], image_size
    factor = (mh // h, mw // w) if h and w and mh % h == 0 and mw % w == 0 else None
    if factor and min(factor) >= 1:
        raise ShapeError(f"The masks are {mh}×{mw} (the Input's size) but the network outputs {h}×{w}; insert an "
                         f"Upsample ×{factor[0] if factor[0] == factor[1] else factor} to label every pixel, or "
                         f"keep more resolution (less pooling or stride)",
                         insert_fix("Upsample", {"scale_factor": factor, "mode": "bilinear"},
                                    label=f"Insert Upsample ×{factor[0] if factor[0] == factor[1] else factor}"))
    raise ShapeError(f"The masks are {mh}×{mw} (the Input's size) but the network outputs {h}×{w}; the score maps "
                     f"must have the Input's height and width (check the padding of convolutions and the sizes of "
                     f"transposed convolutions and upsampling)")


_TASK_SUFFIX = {"segmentation": " per pixel", "localization": " + box", "detection": " + boxes"}

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
    help="What the network predicts: class scores per image or per pixel, or classes with boxes; the task sets "
         "the loss it is trained with.",
    teaching="The output holds one score per class: for the whole image (classification), or at every pixel "
             "(segmentation, a score map per class). Training pushes the score of the right class up and the "
             "others down; the highest score is the prediction. Localization adds four numbers for where the "
             "object is (its box); detection turns the scores into heat maps whose peaks mark each object's "
             "centre, with four more maps for the box around it.",
    params=(ParamSpec("classes", "int", 10, "Number of classes to predict.", 1, 100000),
            ParamSpec("task", "choice", "classification", "classification: one class per image, scores (classes,); "
                      "localization: one object's class and box, (classes + 4,); detection: every object's class "
                      "and box, maps (classes + 4, height, width) at any stride; segmentation: a class for every "
                      "pixel, score maps (classes, height, width) at the Input's size.",
                      choices=("classification", "localization", "detection", "segmentation"), added_later=True)),
    infer=_output_shape, build=None, emit=None, check_image_size=_check_mask_size,
    summary=lambda p: f"{p['classes']} classes" + _TASK_SUFFIX.get(p.get("task"), ""),
))
