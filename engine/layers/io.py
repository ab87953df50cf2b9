"""Input and Output: the two ends of every network."""
from engine.layers.common import fmt_shape
from engine.fixes import insert_fix
from engine.registry import LayerKind, ParamSpec, ShapeError, register


def _input_shape(p, ins):
    return (p["channels"], p["height"], p["width"])


def _output_shape(p, ins):
    (shape,) = ins
    classes = p["classes"]
    if p.get("task") == "segmentation":
        return _mask_scores(shape, classes)
    if p.get("task") == "localization":
        return _box_numbers(shape, classes)
    if p.get("task") == "detection":
        return _heat_maps(shape, classes)
    if len(shape) != 1:
        raise ShapeError(f"Output expects class scores of shape ({classes},) but receives {fmt_shape(shape)}; "
                         f"insert Flatten and a Linear layer with {classes} outputs", insert_fix("Flatten"))
    if shape[0] != classes:
        raise ShapeError(f"Output expects {classes} class scores but receives {shape[0]}; "
                         f"insert a Linear layer with {classes} outputs",
                         insert_fix("Linear", {"out_features": classes}, label=f"Insert Linear ({classes} outputs)",
                                    adjustable=("out_features",)))
    return shape


def _mask_scores(shape, classes):
    if len(shape) != 3:
        raise ShapeError(f"A segmentation Output expects a score map of shape ({classes}, height, width), one score "
                         f"per class at every pixel, but receives {fmt_shape(shape)}; end the network with a 1×1 "
                         f"Conv2d of {classes} channels on feature maps, not Flatten and Linear")
    if shape[0] != classes:
        raise ShapeError(f"A segmentation Output expects {classes} score maps (one per class) but receives {shape[0]}; "
                         f"insert a 1×1 Conv2d with {classes} output channels",
                         insert_fix("Conv2d", {"out_channels": classes, "kernel_size": 1, "padding": 0},
                                    label=f"Insert 1×1 Conv2d ({classes} channels)", adjustable=("out_channels",)))
    return shape


def _box_numbers(shape, classes):
    want = classes + 4
    if len(shape) != 1:
        raise ShapeError(f"A localization Output expects {want} numbers ({classes} class scores, then the box's "
                         f"centre x, y, width and height) but receives {fmt_shape(shape)}; insert Flatten and a "
                         f"Linear layer with {want} outputs", insert_fix("Flatten"))
    if shape[0] != want:
        raise ShapeError(f"A localization Output expects {want} numbers ({classes} class scores and 4 for the box) "
                         f"but receives {shape[0]}; insert a Linear layer with {want} outputs",
                         insert_fix("Linear", {"out_features": want}, label=f"Insert Linear ({want} outputs)",
                                    adjustable=("out_features",)))
    return shape


def _heat_maps(shape, classes):
    want = classes + 4
    if len(shape) != 3:
        raise ShapeError(f"A detection Output expects maps of shape ({want}, height, width): a heat map per class "
                         f"whose peaks are object centres, then the box's width, height and the centre's offset "
                         f"at every cell; but it receives {fmt_shape(shape)}; end the network with a 1×1 Conv2d of "
                         f"{want} channels on feature maps, not Flatten and Linear")
    if shape[0] != want:
        raise ShapeError(f"A detection Output expects {want} maps ({classes} heat maps and 4 for the boxes) but "
                         f"receives {shape[0]}; insert a 1×1 Conv2d with {want} output channels",
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
