"""Built-in layer kinds. Importing this package registers them all."""
from engine.layers import io, convolution, activations, pooling, upsampling, normalization, regularization, dense, branches, extra, placeholder  # noqa: F401,E501
