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
        "zero_pad": "zero_pad: the batch or channel axis is padded too",
        "conv_single_step": "conv_single_step: the bias b is missing",
        "conv_forward": "conv_forward: the windows move by 1, not by the stride",
        "pool_forward": "pool_forward: the windows' maximum is taken in average mode",
        "conv_backward": "conv_backward: db holds only the last dZ: it is overwritten",
        "create_mask_from_window": "create_mask_from_window: the mask marks the minimum",
        "distribute_value": "distribute_value: dz is divided by one side of the window only",
        "pool_backward": "pool_backward: dA_prev does not depend on dA",
    },
    "C4W1A2_signs_cnn": {
        "initialize_parameters": ("initialize_parameters: the weights are not "
                                  "GlorotUniform(seed=1)'s"),
        "forward_propagation": "forward_propagation: the second ReLU is missing",
        "compute_cost": "compute_cost: the cost is the sum over the examples",
        "model": "model: the parameters never change: the gradients are not applied",
    },
    "C4W2A1_resnets": {
        "identity_block": "identity_block: the last ReLU comes before the shortcut is added",
        "convolutional_block": ("convolutional_block (f=2, filters=[2, 4, 6], s=2) raised "
                                "ValueError"),
        "ResNet50": "ResNet50: a stage has another number of blocks than ResNet50's",
    },
    "C4W3A1_car_detection": {
        "yolo_filter_boxes": "yolo_filter_boxes: the boxes kept are those below the threshold",
        "iou": "iou: boxes that do not overlap get an IoU other than 0",
        "yolo_non_max_suppression": ("yolo_non_max_suppression: a box suppresses the boxes of "
                                     "other classes"),
        "yolo_eval": "yolo_eval: the boxes are not scaled to the picture",
    },
    "C4W4A1_face_recognition": {
        "triplet_loss": "triplet_loss: the squared distances are summed over every axis",
        "verify": "verify: the door opens when the distance is above the threshold",
        "who_is_it": "who_is_it: identity is not None when min_dist >= threshold",
    },
    "C4W4A2_neural_style_transfer": {
        "compute_content_cost": "compute_content_cost: the cost is 4 times too large",
        "gram_matrix": "gram_matrix: this is A^T A",
        "compute_layer_style_cost": ("compute_layer_style_cost: a_S and a_G are reshaped "
                                     "straight to (n_C, n_H*n_W)"),
        "compute_style_cost": "compute_style_cost: the cost is the plain sum of the layer costs",
        "total_cost": "total_cost: alpha weighs the style cost and beta the content cost",
        "train_step": "train_step: the image leaves [0, 1]",
    },
}
