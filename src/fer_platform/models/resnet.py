"""Pre-activation residual networks: the paper's ResNet-32 (Figure 14) and our CPU-efficient compact preset."""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.errors import InvalidArgument
from fer_platform.models.blocks import classifier, face_input, preprocess


def _residual_block(x, filters: int, stride: int, name: str, l2: float):
    """tflearn-style pre-activation block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 + shortcut.
    Where the shape changes the shortcut is a 1x1 projection of the input subsampled by the stride (tflearn pads
    channels with zeros; a projection keeps the graph free of Lambda layers, so it saves and loads on every backend)."""
    reg = keras.regularizers.L2(l2) if l2 else None
    pre = layers.BatchNormalization(name=f"{name}_bn1")(x)
    pre = layers.Activation("relu", name=f"{name}_relu1")(pre)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        # The strided 1x1 projection as what it is, a subsample then a 1x1 conv (the same weights and outputs):
        # oneDNN's AVX-512 backward pass of a strided 1x1 conv corrupts memory at odd batch sizes on some Intel
        # CPUs (TF 2.21: a double free that kills a training at an epoch's odd last batch).
        sampled = layers.MaxPooling2D(1, strides=stride, name=f"{name}_subsample")(pre) if stride != 1 else pre
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(sampled)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg,
                      name=f"{name}_conv1")(pre)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = layers.Activation("relu", name=f"{name}_relu2")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"{name}_conv2")(y)
    return layers.Add(name=f"{name}_add")([shortcut, y])


def build_resnet(
    augment: dict,
    blocks_per_stage: list[int],
    widths: list[int],
    stem_width: int | None = None,
    dropout: float = 0.0,
    l2: float = 0.0,
    name: str = "resnet",
) -> keras.Model:
    """Stem conv3x3; per stage `blocks` residual blocks (the first of each later stage halves the
    resolution); BN, ReLU, global average pool, optional dropout, softmax 7."""
    if len(blocks_per_stage) != len(widths):
        raise InvalidArgument(f"blocks_per_stage {blocks_per_stage} and widths {widths} differ in length")
    inputs = face_input()
    x = preprocess(inputs, augment)
    x = layers.Conv2D(stem_width or widths[0], 3, padding="same", use_bias=False, name="stem")(x)
    for s, (blocks, filters) in enumerate(zip(blocks_per_stage, widths, strict=True), start=1):
        for b in range(1, blocks + 1):
            stride = 2 if (s > 1 and b == 1) else 1
            x = _residual_block(x, filters, stride, f"s{s}b{b}", l2)
    x = layers.BatchNormalization(name="final_bn")(x)
    x = layers.Activation("relu", name="final_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(inputs, classifier(x), name=name)


def build_resnet32(augment: dict, *, blocks_per_stage: list[int], widths: list[int], l2: float = 0.0) -> keras.Model:
    """The paper's ResNet-32: 6n+2 layers with n=5 at widths 16/32/64 (tflearn residual_block)."""
    return build_resnet(augment, list(blocks_per_stage), list(widths), l2=l2, name="resnet32")


def build_resnet_compact(
    augment: dict, *, blocks_per_stage: list[int], widths: list[int], dropout: float, l2: float = 0.0
) -> keras.Model:
    """Our CPU-efficient preset: a 4-stage pre-activation ResNet-18-style net sized for 48x48 faces."""
    return build_resnet(augment, list(blocks_per_stage), list(widths), dropout=dropout, l2=l2,
                        name="resnet_compact")
