"""Plausible student mistakes, one per answer cell: ``{assignment: {answer cell id: edit}}``.

Each edit takes the reference code of the cell and returns a wrong version. The autograde
test checks that a submission with one of them loses exactly that function's points.
"""


def replace(old: str, new: str):
    """An edit that replaces ``old`` (which must occur) by ``new``."""
    def edit(code: str) -> str:
        assert old in code, f"mistake template not found: {old!r}"
        return code.replace(old, new)
    return edit


def chain(*edits):
    """An edit that applies several edits in turn."""
    def edit(code: str) -> str:
        for each in edits:
            code = each(code)
        return code
    return edit


MISTAKES = {
    "C4W1A1_conv_step_by_step": {
        # pads the channel axis as well
        "zero_pad": replace("(pad, pad), (0, 0)), mode", "(pad, pad), (pad, pad)), mode"),
        # forgets the bias
        "conv_single_step": replace("Z = Z + b.item()", "Z = Z"),
        # ignores the stride when placing the window
        "conv_forward": replace("vert_start = h * stride", "vert_start = h"),
        # average pooling takes the max
        "pool_forward": replace("np.mean(a_prev_slice)", "np.max(a_prev_slice)"),
        # overwrites db instead of accumulating
        "conv_backward": replace("db[:, :, :, c] += dZ", "db[:, :, :, c] = dZ"),
        # marks the minimum
        "create_mask_from_window": replace("x == np.max(x)", "x == np.min(x)"),
        # divides by the height only
        "distribute_value": replace("dz / (n_H * n_W)", "dz / n_H"),
        # forgets to scale the mask by the upstream gradient
        "pool_backward": replace("mask * dA[i, h, w, c])", "mask)"),
    },
}
MISTAKES["C4W1A2_signs_cnn"] = {
    # another seed than the one asked for
    "initialize_parameters": replace("GlorotUniform(seed=1)", "GlorotUniform(seed=0)"),
    # forgets the second ReLU
    "forward_propagation": replace("A2 = tf.nn.relu(Z2)", "A2 = Z2"),
    # sums the cost over the examples instead of averaging
    "compute_cost": replace("tf.reduce_mean(", "tf.reduce_sum("),
    # computes the gradients but never applies them
    "model": replace("optimizer.apply_gradients(zip(gradients, variables))", "pass"),
}
MISTAKES["C4W2A1_resnets"] = {
    # applies the last ReLU before adding the shortcut
    "identity_block": replace("X = Add()([X, X_shortcut])\n    X = Activation(\"relu\")(X)",
                              "X = Activation(\"relu\")(X)\n    X = Add()([X, X_shortcut])"),
    # forgets the stride of the shortcut
    "convolutional_block": replace(
        "strides=(s, s), padding=\"valid\", name=conv_name_base + \"1\"",
        "strides=(1, 1), padding=\"valid\", name=conv_name_base + \"1\""),
    # stage 4 with four identity blocks instead of five
    "ResNet50": replace("(\"b\", \"c\", \"d\", \"e\", \"f\")", "(\"b\", \"c\", \"d\", \"e\")"),
}
MISTAKES["C4W4A1_face_recognition"] = {
    # sums the squared differences over every axis before the max
    "triplet_loss": replace(", axis=-1)", ")"),
    # opens the door for distant faces
    "verify": replace("door_open = dist < threshold", "door_open = dist > threshold"),
    # never says "not in the database"
    "who_is_it": replace("if min_dist >= threshold:", "if identity is None:"),
}
MISTAKES["C4W4A2_neural_style_transfer"] = {
    # forgets the 4 in the normalisation
    "compute_content_cost": replace("/ (4 * n_H * n_W * n_C)", "/ (n_H * n_W * n_C)"),
    # A^T A instead of A A^T
    "gram_matrix": replace("tf.matmul(A, tf.transpose(A))", "tf.matmul(tf.transpose(A), A)"),
    # unrolls with a plain reshape to (n_C, n_H*n_W)
    "compute_layer_style_cost": chain(replace("tf.transpose(tf.reshape(", "(tf.reshape("),
                                      replace("shape=[n_H * n_W, n_C]", "shape=[n_C, n_H * n_W]")),
    # forgets the layer weights
    "compute_style_cost": replace("J_style += weight * ", "J_style += "),
    # swaps the weights
    "total_cost": replace("alpha * J_content + beta * J_style",
                          "beta * J_content + alpha * J_style"),
    # does not clip the pixels
    "train_step": replace("generated_image.assign(clip_0_1(generated_image))", "pass"),
}
MISTAKES["C4W3A1_car_detection"] = {
    # keeps the boxes below the threshold
    "yolo_filter_boxes": replace("box_class_scores >= threshold", "box_class_scores < threshold"),
    # clamps the product instead of each side
    "iou": chain(replace("inter_width = max(xi2 - xi1, 0)", "inter_width = xi2 - xi1"),
                 replace("inter_height = max(yi2 - yi1, 0)", "inter_height = yi2 - yi1"),
                 replace("inter_area = inter_width * inter_height",
                         "inter_area = max(inter_width * inter_height, 0)")),
    # suppresses across classes
    "yolo_non_max_suppression": replace("boxes + offsets, scores", "boxes, scores"),
    # forgets to scale the boxes to the picture
    "yolo_eval": replace("    boxes = scale_boxes(boxes, image_shape)\n", ""),
}

# What the grader's verdict on each mistake above must say: the function, the case and what is
# wrong (tests/test_autograde.py reads it from the autograded notebook's test cell).
VERDICTS = {
    "C4W1A1_conv_step_by_step": {
        "zero_pad": "zero_pad: wrong output shape (4, 9, 9, 8), expected (4, 9, 9, 2)",
        "conv_single_step": "conv_single_step: the bias b is missing",
        "conv_forward": "conv_forward (stride=2, pad=1): wrong Z values at 128 of 192 entries",
        "pool_forward": "pool_forward (mode='average', f=3, stride=1): wrong A values",
        "conv_backward": "conv_backward (stride=2, pad=1): wrong db values",
        "create_mask_from_window": "create_mask_from_window: for x =",
        "distribute_value": "distribute_value: wrong output values at 4 of 4 entries",
        "pool_backward": "pool_backward (mode='max', f=2, stride=1): wrong dA_prev values",
    },
    "C4W1A2_signs_cnn": {
        "initialize_parameters": "initialize_parameters: wrong W1 values",
        "forward_propagation": "forward_propagation: wrong logits values",
        "compute_cost": "you returned the sum over the examples; return the mean",
        "model": "the parameters did not change during training",
    },
    "C4W2A1_resnets": {
        "identity_block": "identity_block (f=2, filters=[4, 4, 6]): wrong output values",
        "convolutional_block": ("convolutional_block (f=2, filters=[2, 4, 6], s=2) raised "
                                "ValueError"),
        "ResNet50": "ResNet50: the layers differ from ResNet50's",
    },
    "C4W3A1_car_detection": {
        "yolo_filter_boxes": ("yolo_filter_boxes (seed=1, threshold=0.5): kept 1770 boxes, "
                              "expected 35"),
        "iou": "iou (disjoint: (1, 2, 3, 4), (5, 6, 7, 8)): wrong IoU: got 1.0, expected 0.0",
        "yolo_non_max_suppression": "(case='two_classes'): kept 1 boxes, expected 2",
        "yolo_eval": "yolo_eval: wrong boxes values",
    },
    "C4W4A1_face_recognition": {
        "triplet_loss": "the squared distances were summed over every axis",
        "verify": "door_open should be True, got False",
        "who_is_it": "identity should be None, got 'chloe'",
    },
    "C4W4A2_neural_style_transfer": {
        "compute_content_cost": "the cost is 4 times too large",
        "gram_matrix": "that is A^T A; the Gram matrix is A A^T",
        "compute_layer_style_cost": "reshaped directly to (n_C, n_H*n_W)",
        "compute_style_cost": "got the plain sum of the layer costs",
        "total_cost": "alpha weighs the content cost, beta the style cost",
        "train_step": "clip it to [0, 1]",
    },
}
