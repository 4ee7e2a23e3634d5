"""An ensemble as one Keras graph: the mean of its members' probabilities.

Serving loads one model, so an ensemble is only real if the averaging is inside the saved graph: what was
evaluated is exactly what is served (the same rule as preprocessing in the graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fer_platform.errors import InvalidArgument


def average_probabilities(members: Sequence[Any], name: str = "ensemble"):
    """A functional model whose output is the unweighted mean of the members' outputs on the same faces.

    Equal weights on purpose: weights tuned on PublicTest would be one more thing selected on the data we
    report next to, and measured, they gained 0.05 points over equal weights.
    """
    import keras  # start-up cost: importing the models package must not import Keras

    if len(members) < 2:
        raise InvalidArgument(f"an ensemble needs at least two members, got {len(members)}")
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"ensemble members need distinct model names, got {names}")
    first = members[0]
    for member in members[1:]:
        if tuple(member.inputs[0].shape) != tuple(first.inputs[0].shape) or \
                tuple(member.outputs[0].shape) != tuple(first.outputs[0].shape):
            raise InvalidArgument(f"ensemble members disagree on the image contract: {first.name} "
                             f"{first.inputs[0].shape}->{first.outputs[0].shape}, {member.name} "
                             f"{member.inputs[0].shape}->{member.outputs[0].shape}")
    faces = keras.Input(shape=tuple(first.inputs[0].shape[1:]), dtype=first.inputs[0].dtype, name="face")
    probabilities = keras.layers.Average(name="mean_probabilities")([m(faces) for m in members])
    return keras.Model(faces, probabilities, name=name)
