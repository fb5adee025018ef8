"""One mistaken implementation for each entry of the checks' mistake catalogues.

``CATALOGUE[assignment][function][mistake]`` is an edit of the reference code of the function's
answer cell (see tests/mistakes.py) that makes exactly that mistake; ``mistake`` is the name of
a ``Mistake`` in the function's ``GradedFunction.mistakes``. ``ALSO`` lists further
implementations that make one of those mistakes in other code. ``CASES`` names the notebook
cases a function's mistakes are tried on when not all its public cases (``model`` trains).
"""

import re

from mistakes import MISTAKES, chain, replace


def resub(pattern: str, new: str):
    """An edit that replaces every match of the regular expression ``pattern`` (at least one)."""
    def edit(code: str) -> str:
        changed, count = re.subn(pattern, new, code)
        assert count, f"mistake pattern not found: {pattern!r}"
        return changed
    return edit


CONV_FORWARD_SIZE = ("n_H = (n_H_prev - f + 2 * pad) // stride + 1\n"
                     "    n_W = (n_W_prev - f + 2 * pad) // stride + 1")

CATALOGUE = {
    "C4W1A1_conv_step_by_step": {
        "zero_pad": {
            "other_axes": replace("((0, 0), (pad, pad), (pad, pad), (0, 0))", "pad"),
            "one_side": replace("((0, 0), (pad, pad), (pad, pad), (0, 0))",
                                "((0, 0), (pad, 0), (pad, 0), (0, 0))"),
            "border": replace('mode="constant",\n                   constant_values=(0, 0))',
                              'mode="edge")'),
            "dtype": replace(
                'np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant",\n'
                '                   constant_values=(0, 0))',
                "np.zeros((X.shape[0], X.shape[1] + 2 * pad, X.shape[2] + 2 * pad, X.shape[3]))"
                "\n    X_pad[:, pad:pad + X.shape[1], pad:pad + X.shape[2], :] = X"),
        },
        "conv_single_step": {
            "no_bias": replace("Z = Z + b.item()", "Z = Z"),
            "array": replace("Z = Z + b.item()", "Z = Z + b"),
            "not_summed": replace("Z = np.sum(s)", "Z = s"),
            "mean": replace("Z = np.sum(s)", "Z = np.mean(s)"),
        },
        "conv_forward": {
            "stride": replace("vert_start = h * stride", "vert_start = h"),
            "padding_unused": replace("a_prev_pad = A_prev_pad[i]", "a_prev_pad = A_prev[i]"),
            "size_without_padding": replace(
                CONV_FORWARD_SIZE, "n_H = (n_H_prev - f) // stride + 1\n"
                                   "    n_W = (n_W_prev - f) // stride + 1"),
        },
        "pool_forward": {
            "max_averaged": replace("A[i, h, w, c] = np.max(a_prev_slice)",
                                    "A[i, h, w, c] = np.mean(a_prev_slice)"),
            "average_maxed": replace("np.mean(a_prev_slice)", "np.max(a_prev_slice)"),
            "stride": chain(replace("vert_start = h * stride", "vert_start = h"),
                            replace("horiz_start = w * stride", "horiz_start = w")),
            "channels": replace("horiz_start:horiz_end, c]", "horiz_start:horiz_end, :]"),
        },
        "conv_backward": {
            "db_overwritten": replace("db[:, :, :, c] += dZ", "db[:, :, :, c] = dZ"),
            "averaged": replace("    return dA_prev, dW, db", "    return dA_prev, dW / m, db / m"),
            "dW_from_W": replace("dW[:, :, :, c] += a_slice * dZ[i, h, w, c]",
                                 "dW[:, :, :, c] += W[:, :, :, c] * dZ[i, h, w, c]"),
            "still_padded": replace("    return dA_prev, dW, db", "    return dA_prev_pad, dW, db"),
        },
        "create_mask_from_window": {
            "minimum": replace("x == np.max(x)", "x == np.min(x)"),
            "number": replace("mask = x == np.max(x)", "mask = np.max(x)"),
            "one_axis": replace("x == np.max(x)", "x == np.max(x, axis=0)"),
        },
        "distribute_value": {
            "one_side": replace("dz / (n_H * n_W)", "dz / n_H"),
            "copied": replace("dz / (n_H * n_W)", "dz"),
            "number": replace("a = np.ones(shape) * average", "a = average"),
        },
        "pool_backward": {
            "upstream_dropped": replace("mask * dA[i, h, w, c])", "mask)"),
            "max_averaged": replace("mask * dA[i, h, w, c])",
                                    "distribute_value(dA[i, h, w, c], (f, f)))"),
            "average_maxed": replace(
                "distribute_value(dA[i, h, w, c], (f, f)))",
                "create_mask_from_window(a_prev[vert_start:vert_end, horiz_start:horiz_end, c])"
                " * dA[i, h, w, c])"),
        },
    },
}

ALSO: dict = {}  # {(assignment, function, mistake): another edit making that mistake}

CASES: dict[str, list[dict]] = {}

CATALOGUE["C4W1A2_signs_cnn"] = {
    "initialize_parameters": {
        "not_variable": replace('W1 = tf.Variable(initializer(shape=(4, 4, 3, 8)), name="W1")',
                                "W1 = initializer(shape=(4, 4, 3, 8))"),
        "other_initializer": replace("GlorotUniform(seed=1)", "GlorotUniform(seed=0)"),
        "b3_not_zero": replace("tf.Variable(tf.zeros((6,))", "tf.Variable(initializer(shape=(6,))"),
        "reversed_shape": replace("initializer(shape=(64, 6))", "initializer(shape=(6, 64))"),
    },
    "forward_propagation": {
        "no_bias": replace("Z3 = tf.matmul(F, W3) + b3", "Z3 = tf.matmul(F, W3)"),
        "softmax": replace("Z3 = tf.matmul(F, W3) + b3",
                           "Z3 = tf.nn.softmax(tf.matmul(F, W3) + b3)"),
        "relu_output": replace("Z3 = tf.matmul(F, W3) + b3",
                               "Z3 = tf.nn.relu(tf.matmul(F, W3) + b3)"),
        "relu1_missing": replace("A1 = tf.nn.relu(Z1)", "A1 = Z1"),
        "relu2_missing": replace("A2 = tf.nn.relu(Z2)", "A2 = Z2"),
    },
    "compute_cost": {
        "summed": replace("tf.reduce_mean(", "tf.reduce_sum("),
        "per_example": replace(
            "cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=Z3))",
            "cost = tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=Z3)"),
        "arguments_exchanged": replace("labels=Y, logits=Z3", "labels=Z3, logits=Y"),
        "transposed": replace("labels=Y, logits=Z3",
                              "labels=tf.transpose(Y), logits=tf.transpose(Z3)"),
    },
    "model": {
        "not_applied": replace("optimizer.apply_gradients(zip(gradients, variables))", "pass"),
        "summed_costs": replace("epoch_cost += float(minibatch_cost) * len(minibatch_X) / m",
                                "epoch_cost += float(minibatch_cost)"),
        "divided_by_m": replace("epoch_cost += float(minibatch_cost) * len(minibatch_X) / m",
                                "epoch_cost += float(minibatch_cost) / m"),
        "accuracies_exchanged": replace(
            "return train_accuracy, test_accuracy, parameters, costs",
            "return test_accuracy, train_accuracy, parameters, costs"),
    },
}
CASES["model"] = [{"n_train": 300, "n_test": 50, "num_epochs": 3, "learning_rate": 0.02}]

_BLOCK = {
    "no_training": chain(resub(r"training=True,\s*", ""), resub(r",\s*training=training\)", ")")),
    "training_ignored": resub(r",\s*training=training\)", ")"),
    "final_relu_missing": replace('X = Add()([X, X_shortcut])\n    X = Activation("relu")(X)',
                                  "X = Add()([X, X_shortcut])"),
    "relu_before_add": replace('X = Add()([X, X_shortcut])\n    X = Activation("relu")(X)',
                               'X = Activation("relu")(X)\n    X = Add()([X, X_shortcut])'),
    "no_shortcut": replace("X = Add()([X, X_shortcut])\n    ", ""),
    "bn_axis": replace("BatchNormalization(axis=3", "BatchNormalization(axis=1"),
    "kernel_initializer": replace('name=conv_name_base + "2b",\n               '
                                  "kernel_initializer=initializer(seed=0))",
                                  'name=conv_name_base + "2b")'),
}
CATALOGUE["C4W2A1_resnets"] = {
    "identity_block": dict(_BLOCK),
    "convolutional_block": {
        **_BLOCK,
        "shortcut_without_bn": resub(r'    X_shortcut = BatchNormalization\(axis=3, '
                                     r'name=bn_name_base \+ "1"\)[^)]*\)\n', ""),
    },
    "ResNet50": {
        "block_count": replace('("b", "c", "d", "e", "f")', '("b", "c", "d", "e")'),
        "stride": replace('stage=3, block="a", s=2', 'stage=3, block="a", s=1'),
        "no_max_pool": replace("    X = MaxPooling2D((3, 3), strides=(2, 2))(X)\n", ""),
        "no_softmax": replace('Dense(classes, activation="softmax", ', "Dense(classes, "),
    },
}

CATALOGUE["C4W3A1_car_detection"] = {
    "yolo_filter_boxes": {
        "below": replace("box_class_scores >= threshold", "box_class_scores < threshold"),
        "no_confidence": replace("box_scores = box_confidence * box_class_probs",
                                 "box_scores = box_class_probs"),
        "strict": replace("box_class_scores >= threshold", "box_class_scores > threshold"),
    },
    "iou": {
        "not_clamped": MISTAKES["C4W3A1_car_detection"]["iou"],
        "union_double_counts": replace("box1_area + box2_area - inter_area",
                                       "box1_area + box2_area"),
        "corners_swapped": chain(replace("xi1 = max(", "xi1 = min("),
                                 replace("yi1 = max(", "yi1 = min("),
                                 replace("xi2 = min(", "xi2 = max("),
                                 replace("yi2 = min(", "yi2 = max(")),
    },
    "yolo_non_max_suppression": {
        "across_classes": replace("boxes + offsets, scores", "boxes, scores"),
        "too_many": replace("scores, max_boxes, iou_threshold)", "scores, 10, iou_threshold)"),
        "no_suppression": replace(
            "tf.image.non_max_suppression(boxes + offsets, scores, max_boxes, iou_threshold)",
            "tf.math.top_k(scores, k=tf.minimum(max_boxes, tf.size(scores))).indices"),
        "iou_ignored": replace("max_boxes, iou_threshold)", "max_boxes, 0.5)"),
    },
    "yolo_eval": {
        "old_order": replace("box_xy, box_wh, box_confidence, box_class_probs = yolo_outputs",
                             "box_confidence, box_xy, box_wh, box_class_probs = yolo_outputs"),
        "not_scaled": MISTAKES["C4W3A1_car_detection"]["yolo_eval"],
        "no_suppression": resub(r"    scores, boxes, classes = yolo_non_max_suppression\([^)]*\)\n",
                                ""),
        "too_many": resub(r"classes, max_boxes,\s*iou_threshold\)",
                          "classes, iou_threshold=iou_threshold)"),
    },
}
# The same mistake in other code: no clamp at all (the same IoU as a clamped product).
ALSO[("C4W3A1_car_detection", "iou", "not_clamped")] = chain(
    replace("inter_width = max(xi2 - xi1, 0)", "inter_width = xi2 - xi1"),
    replace("inter_height = max(yi2 - yi1, 0)", "inter_height = yi2 - yi1"))

CATALOGUE["C4W4A1_face_recognition"] = {
    "triplet_loss": {
        "summed_all_axes": replace(", axis=-1)", ")"),
        "max_after_sum": replace("loss = tf.reduce_sum(tf.maximum(basic_loss, 0.0))",
                                 "loss = tf.maximum(tf.reduce_sum(basic_loss), 0.0)"),
        "no_max": replace("loss = tf.reduce_sum(tf.maximum(basic_loss, 0.0))",
                          "loss = tf.reduce_sum(basic_loss)"),
        "mean": replace("loss = tf.reduce_sum(tf.maximum(", "loss = tf.reduce_mean(tf.maximum("),
        "unsquared": resub(r"tf\.reduce_sum\(tf\.square\((tf\.subtract\(anchor, \w+\))\), "
                           r"axis=-1\)", r"tf.norm(\1, axis=-1)"),
        "no_alpha": replace("basic_loss = pos_dist - neg_dist + alpha",
                            "basic_loss = pos_dist - neg_dist"),
        "minus_alpha": replace("basic_loss = pos_dist - neg_dist + alpha",
                               "basic_loss = pos_dist - neg_dist - alpha"),
    },
    "verify": {
        "door_reversed": replace("door_open = dist < threshold", "door_open = dist > threshold"),
        "squared": replace("dist = float(np.linalg.norm(encoding - database[identity]))",
                           "dist = float(np.sum(np.square(encoding - database[identity])))"),
        "distance_array": replace("dist = float(np.linalg.norm(encoding - database[identity]))",
                                  "dist = np.linalg.norm(encoding - database[identity], axis=-1)"),
    },
    "who_is_it": {
        "never_none": replace("if min_dist >= threshold:", "if identity is None:"),
        "starts_at_zero": replace('min_dist, identity = float("inf"), None',
                                  "min_dist, identity = 0.0, None"),
        "farthest": chain(replace('min_dist, identity = float("inf"), None',
                                  "min_dist, identity = 0.0, None"),
                          replace("if dist < min_dist:", "if dist > min_dist:")),
    },
}

CATALOGUE["C4W4A2_neural_style_transfer"] = {
    "compute_content_cost": {
        "four_times": replace("/ (4 * n_H * n_W * n_C)", "/ (n_H * n_W * n_C)"),
        "not_normalised": replace(" / (4 * n_H * n_W * n_C)", ""),
        "not_squared": replace("tf.reduce_sum(tf.square(tf.subtract(a_C, a_G)))",
                               "tf.reduce_sum(tf.subtract(a_C, a_G))"),
    },
    "gram_matrix": {
        "transposed": replace("tf.matmul(A, tf.transpose(A))", "tf.matmul(tf.transpose(A), A)"),
        "normalised": replace("GA = tf.matmul(A, tf.transpose(A))",
                              "GA = tf.matmul(A, tf.transpose(A)) / A.shape[1]"),
        "elementwise": replace("GA = tf.matmul(A, tf.transpose(A))", "GA = A * A"),
    },
    "compute_layer_style_cost": {
        "plain_reshape": MISTAKES["C4W4A2_neural_style_transfer"]["compute_layer_style_cost"],
        "four_times": replace("/ (4 * n_C ** 2 *", "/ (n_C ** 2 *"),
        "positions_not_squared": replace("(n_H * n_W) ** 2)", "(n_H * n_W))"),
        "same_gram": replace("GS = gram_matrix(a_S)", "GS = gram_matrix(a_G)"),
    },
    "compute_style_cost": {
        "unweighted": replace("J_style += weight * ", "J_style += "),
        "last_layer": replace("J_style += weight * ", "J_style = weight * "),
        "averaged": replace("compute_layer_style_cost(a_S, a_G)\n",
                            "compute_layer_style_cost(a_S, a_G)\n"
                            "    J_style = J_style / len(style_layers)\n"),
    },
    "total_cost": {
        "swapped": replace("alpha * J_content + beta * J_style",
                           "beta * J_content + alpha * J_style"),
        "weights_ignored": replace("alpha * J_content + beta * J_style",
                                   "10 * J_content + 40 * J_style"),
        "unweighted": replace("alpha * J_content + beta * J_style", "J_content + J_style"),
    },
    "train_step": {
        "not_clipped": replace("generated_image.assign(clip_0_1(generated_image))", "pass"),
        "not_applied": replace("optimizer.apply_gradients([(grad, generated_image)])", "pass"),
        "weights_exchanged": replace("total_cost(J_content, J_style, alpha=ALPHA",
                                     "total_cost(J_style, J_content, alpha=ALPHA"),
    },
}
