/* tensor/registry.h — the registry: every differentiable op of tensor/, once.
 * X(ID, name, differentiable inputs, rule): the rule is ag__bw_<rule> (defined next to the op's
 * front end). Front ends pass AG_OP(ID) when they record; nodes name the public function the
 * user called (ag_mean records ag_sum's node, labelled "ag_mean" where the front end says so).
 * tests/test_op_table.c fails when a differentiable op here has no op-table row or no
 * gradcheck (ag_op_counting). */
#ifndef AG_TENSOR_REGISTRY_H
#define AG_TENSOR_REGISTRY_H

#define D0 AG_DIFF(0)
#define D01 (AG_DIFF(0) | AG_DIFF(1))
#define D012 (AG_DIFF(0) | AG_DIFF(1) | AG_DIFF(2))
#define AG_OPS(X) \
    /* elementwise.c */ \
    X(ADD, "ag_add", D01, add) X(SUB, "ag_sub", D01, sub) X(MUL, "ag_mul", D01, mul) \
    X(DIV, "ag_div", D01, div) X(POW, "ag_pow", D01, pow) \
    X(MAXIMUM, "ag_maximum", D01, maxmin) X(MINIMUM, "ag_minimum", D01, maxmin) \
    X(ADD_S, "ag_add_s", D0, adds) X(MUL_S, "ag_mul_s", D0, muls) X(POW_S, "ag_pow_s", D0, pows) \
    X(RSUB_S, "ag_rsub_s", D0, rsubs) \
    X(NEG, "ag_neg", D0, neg) X(ABS, "ag_abs", D0, abs) X(SIGN, "ag_sign", D0, sign) \
    X(SQUARE, "ag_square", D0, square) X(RECIPROCAL, "ag_reciprocal", D0, recip) \
    X(EXP, "ag_exp", D0, exp) X(LOG, "ag_log", D0, log) X(LOG1P, "ag_log1p", D0, log1p) \
    X(EXPM1, "ag_expm1", D0, expm1) X(SQRT, "ag_sqrt", D0, sqrt) X(RSQRT, "ag_rsqrt", D0, rsqrt) \
    X(SIN, "ag_sin", D0, sin) X(COS, "ag_cos", D0, cos) X(TANH, "ag_tanh", D0, tanh) \
    X(SIGMOID, "ag_sigmoid", D0, sigmoid) X(SOFTPLUS, "ag_softplus", D0, softplus) \
    X(ERF, "ag_erf", D0, erf) X(CLAMP, "ag_clamp", D0, clamp) X(RELU, "ag_relu", D0, relu) \
    X(RELU_BACKWARD, "ag_relu_backward", D0, relu_backward) \
    X(CONJ, "ag_conj", D0, conj) X(ANGLE, "ag_angle", D0, angle) \
    X(COMPLEX, "ag_complex", D01, complex) X(POLAR, "ag_polar", D01, polar) \
    X(WHERE, "ag_where", AG_DIFF(1) | AG_DIFF(2), where) \
    X(FLOOR, "ag_floor", D0, zero) X(CEIL, "ag_ceil", D0, zero) X(ROUND, "ag_round", D0, zero) \
    X(ASIN, "ag_asin", D0, asin) X(ACOS, "ag_acos", D0, acos) X(ATAN, "ag_atan", D0, atan) \
    X(SINH, "ag_sinh", D0, sinh) X(COSH, "ag_cosh", D0, cosh) X(LOG2, "ag_log2", D0, log2) \
    X(LOG10, "ag_log10", D0, log10) X(ATAN2, "ag_atan2", D01, atan2) \
    /* create.c */ \
    X(CLONE, "ag_clone", D0, clone) X(TO, "ag_to", D0, to) \
    /* view.c */ \
    X(ALIAS, "ag_alias", D0, identity) X(RESHAPE, "ag_reshape", D0, reshape) \
    X(PERMUTE, "ag_permute", D0, permute) X(SLICE, "ag_slice", D0, slice) \
    X(SLICE_BACKWARD, "ag_slice_backward", D0, slice_backward) \
    X(EXPAND, "ag_expand", D0, expand) X(REAL, "ag_real", D0, real) X(IMAG, "ag_imag", D0, imag) \
    X(VIEW_AS_REAL, "ag_view_as_real", D0, view_as_real) \
    X(VIEW_AS_COMPLEX, "ag_view_as_complex", D0, view_as_complex) \
    /* reduce.c */ \
    X(SUM, "ag_sum", D0, sum) X(PROD, "ag_prod", D0, prod) X(AMAX, "ag_amax", D0, amax) \
    X(MAX_DIM, "ag_max_dim", D0, maxdim) X(NORM, "ag_norm", D0, norm) X(STD, "ag_std", D0, std) \
    X(LOGSUMEXP, "ag_logsumexp", D0, lse) \
    /* sort.c */ \
    X(SORT, "ag_sort", D0, sort) \
    /* linalg.c */ \
    X(MATMUL, "ag_matmul", D01, bmm) \
    /* index.c */ \
    X(INDEX_SELECT, "ag_index_select", D0, index_select) X(INDEX_ADD, "ag_index_add", D01, index_add) \
    X(GATHER, "ag_gather", D0, gather) X(SCATTER_ADD, "ag_scatter_add", D01, scatter_add) \
    X(SCATTER, "ag_scatter", D01, scatter) \
    X(CAT, "ag_cat", AG_DIFF_ALL, cat) X(FLIP, "ag_flip", D0, flip) X(CUMSUM, "ag_cumsum", D0, cumsum) \
    /* fft.c */ \
    X(FFT, "ag_fftn", D0, xform) X(FFT_PAD, "ag_fft_pad", D0, fft_pad) \
    X(FFTSHIFT, "ag_fftshift", D0, shift) \
    /* layout.c (imaging layouts; nodes labelled ag_sky_to_packed, ag_packed_to_ground, ...) */ \
    X(ROLL2D, "ag_packed_to_sky", D0, roll2d) X(HERMITIAN_FILL, "ag_hermitian_fill", D0, hermitian_fill) \
    /* conv.c */ \
    X(CONV2D, "ag_conv2d", D012, conv_fwd) \
    X(CONV2D_BACKWARD_INPUT, "ag_conv2d_backward_input", D01, conv_bi) \
    X(CONV2D_BACKWARD_WEIGHT, "ag_conv2d_backward_weight", D01, conv_bw) \
    X(POOL2D, "ag_pool2d", D0, pool) X(POOL2D_BACKWARD, "ag_pool2d_backward", D0, pool_backward) \
    X(PAD, "ag_pad", D0, pad) X(PAD_BACKWARD, "ag_pad_backward", D0, pad_backward) \
    X(UPSAMPLE2D, "ag_upsample2d", D0, upsample) X(UPSAMPLE2D_BACKWARD, "ag_upsample2d_backward", D0, upsample_backward) \
    /* solve.c */ \
    X(SOLVE, "ag_solve", D01, solve) X(INVERSE, "ag_inverse", D0, inverse) X(DET, "ag_det", D0, det) \
    X(LOGDET, "ag_logdet", D0, logdet) X(SLOGDET_SIGN, "ag_slogdet", D0, slogdet_sign) \
    X(CHOLESKY, "ag_cholesky", D0, cholesky) X(TRIANGULAR_SOLVE, "ag_triangular_solve", D01, tri) \
    /* decomp.c */ \
    X(QR, "ag_linalg_qr", D0, qr) X(EIGH, "ag_linalg_eigh", D0, eigh) X(SVD, "ag_linalg_svd", D0, svd) \
    /* nufft_ops.c (u, v are inputs 1 and 2, not differentiable) */ \
    X(DFT, "ag_dft", D0, dft) X(DFT_ADJOINT, "ag_dft_adjoint", D0, dft) \
    /* imaging_ops.c (fused; the kind is in the node's params, the name is the public function) */ \
    X(VIS_LOSS, "ag_chi_squared", D0 | AG_DIFF(2), vis_loss) X(IMAGE_PRIOR, "ag_tv_image", D01, image_prior)

typedef enum ag_op_id {
#define AG_OP_ENUM(id, name, diff, rule) AG_OP_##id,
    AG_OPS(AG_OP_ENUM)
#undef AG_OP_ENUM
    AG_OP__COUNT
} ag_op_id;

extern const ag_opdef ag__ops[AG_OP__COUNT];
#define AG_OP(id) (&ag__ops[AG_OP_##id])

/* the rules, defined in the op's file (a rule shared by two ops is declared twice: harmless) */
#define AG_OP_RULE(id, name, diff, rule) int ag__bw_##rule(ag_node *n, ag_tensor *g, ag_tensor **gin);
AG_OPS(AG_OP_RULE)
#undef AG_OP_RULE

#endif
