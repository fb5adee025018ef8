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
    "convolutional_block": replace("strides=(s, s), padding=\"valid\", name=conv_name_base + \"1\"",
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
    "total_cost": replace("alpha * J_content + beta * J_style", "beta * J_content + alpha * J_style"),
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
