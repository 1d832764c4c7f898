"""2-d convolution: the ``Conv2d`` op (Theano's AbstractConv2d) and ``conv2d``, Theano 1.0's
``tensor.nnet.conv2d`` with every option (border modes 'valid', 'full', 'half', an int, a pair
or a pair of pairs; subsample; filter_flip; filter_dilation; num_groups), plus the old
``tensor.nnet.conv.conv2d`` interface.

The numpy reference is im2col + one batched matmul per call (no loop over pixels): the padded
input is viewed as sliding windows, each output position's window becomes a row, and the
filters of each group become one matrix. Its gradients with respect to the input and the
filters are ops of their own (``Conv2dGradInputs``, ``Conv2dGradWeights`` in conv_grad.py),
whose gradients are again these three ops, so second derivatives work.

Shapes: input (batch, channels, rows, cols); filters (n_filters, channels // num_groups,
f_rows, f_cols); output (batch, n_filters, out_rows, out_cols) with
``out = (rows + pad_before + pad_after - dilated_f) // subsample + 1`` and
``dilated_f = (f - 1) * dilation + 1``.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..graph.basic import Apply, Constant, Op, Variable, traced
from ..graph.type import TensorType, upcast
from .basic import as_tensor_variable

BORDER_MODES = ("valid", "full", "half")


# ---------------------------------------------------------------------------------------------
# parameter checks (shared with the gradient ops)
# ---------------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_pair(value: Any, what: str, minimum: int) -> tuple:
    """``value`` as a pair of Python ints >= ``minimum``; a clear error naming ``what`` otherwise."""
    if isinstance(value, Constant):
        value = value.data
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if _is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_int(v) for v in value):
        raise TypeError(f"{what} must be a pair of ints, got {value!r}")
    if any(v < minimum for v in value):
        raise ValueError(f"{what} entries must be >= {minimum}, got {tuple(value)!r}")
    return tuple(int(v) for v in value)


def normalize_border_mode(border_mode: Any) -> Any:
    """'valid', 'full', 'half', or explicit padding as ``((top, bottom), (left, right))``.

    Accepts Theano's forms: a mode name, an int (same padding on all four sides), a pair
    ``(rows, cols)`` (symmetric), or a pair of pairs (asymmetric)."""
    if isinstance(border_mode, str):
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {BORDER_MODES}, an int or a pair, got {border_mode!r}")
        return border_mode
    if _is_int(border_mode):
        border_mode = (border_mode, border_mode)
    if isinstance(border_mode, (tuple, list)) and len(border_mode) == 2:
        pairs = []
        for side in border_mode:
            if _is_int(side):
                side = (side, side)
            if not (isinstance(side, (tuple, list)) and len(side) == 2 and all(_is_int(s) for s in side)):
                raise TypeError(f"border_mode must be one of {BORDER_MODES}, an int, a pair of ints or a pair "
                                f"of pairs of ints, got {border_mode!r}")
            if any(s < 0 for s in side):
                raise ValueError(f"border_mode padding must be >= 0, got {border_mode!r}")
            pairs.append((int(side[0]), int(side[1])))
        return tuple(pairs)
    raise TypeError(f"border_mode must be one of {BORDER_MODES}, an int, a pair of ints or a pair of pairs "
                    f"of ints, got {border_mode!r}")


def _shape_hint(value: Any, what: str) -> tuple:
    """A 4-entry shape hint with ints or None (symbolic entries count as unknown)."""
    if value is None:
        return (None,) * 4
    if isinstance(value, Constant):
        value = value.data.tolist()
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise ValueError(f"{what} must have 4 entries (or be None), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, Constant):
            v = v.data.item()
        if v is None or isinstance(v, Variable):
            out.append(None)
        elif _is_int(v) and v >= 0:
            out.append(int(v))
        else:
            raise ValueError(f"{what} entries must be non-negative ints or None, got {value!r}")
    return tuple(out)


def dilated(k: Any, d: int) -> Any:
    """Extent of a filter of size ``k`` with dilation ``d`` (ints or int scalar variables)."""
    return (k - 1) * d + 1


def _merge_static(a: Any, b: Any) -> Any:
    return a if a is not None else b


class ConvParams(Op):
    """The options every convolution op shares, and their shape arithmetic."""

    __props__ = ("imshp", "kshp", "border_mode", "subsample", "filter_flip", "filter_dilation", "num_groups")

    def __init__(self, imshp: Any = None, kshp: Any = None, border_mode: Any = "valid",
                 subsample: Any = (1, 1), filter_flip: bool = True, filter_dilation: Any = (1, 1),
                 num_groups: int = 1):
        self.imshp = _shape_hint(imshp, "input_shape")
        self.kshp = _shape_hint(kshp, "filter_shape")
        self.border_mode = normalize_border_mode(border_mode)
        self.subsample = int_pair(subsample, "subsample", 1)
        self.filter_flip = bool(filter_flip)
        self.filter_dilation = int_pair(filter_dilation, "filter_dilation", 1)
        if not _is_int(num_groups) or num_groups < 1:
            raise ValueError(f"num_groups must be a positive int, got {num_groups!r}")
        self.num_groups = int(num_groups)

    def params(self) -> dict:
        """The constructor arguments, to build the related ops."""
        return {p: getattr(self, p) for p in self.__props__}

    # --- shape arithmetic: works on ints and on int64 scalar variables alike ---------------
    def pad_axis(self, axis: int, k: Any) -> tuple:
        """(before, after) zero padding of spatial ``axis`` for a filter of size ``k`` there."""
        if isinstance(self.border_mode, tuple):
            return self.border_mode[axis]
        if self.border_mode == "valid":
            return (0, 0)
        extent = dilated(k, self.filter_dilation[axis])
        p = extent - 1 if self.border_mode == "full" else extent // 2   # half keeps the size
        return (p, p)

    def pads(self, k: Sequence) -> tuple:
        """``((top, bottom), (left, right))`` zero padding for filters of spatial size ``k``."""
        return (self.pad_axis(0, k[0]), self.pad_axis(1, k[1]))

    def out_axis(self, axis: int, n: Any, k: Any) -> Any:
        """Output size along spatial ``axis`` for input size ``n`` and filter size ``k``."""
        before, after = self.pad_axis(axis, k)
        return (n + before + after - dilated(k, self.filter_dilation[axis])) // self.subsample[axis] + 1

    def out_size(self, size: Sequence, k: Sequence) -> tuple:
        """Output rows and columns for input spatial ``size`` and filter spatial ``k``."""
        return (self.out_axis(0, size[0], k[0]), self.out_axis(1, size[1], k[1]))

    def static_out_size(self, size: Sequence, k: Sequence) -> tuple:
        """Output rows/cols where input and filter sizes are known (None elsewhere)."""
        return tuple(None if size[a] is None or k[a] is None else self.out_axis(a, size[a], k[a])
                     for a in range(2))

    def check_fits(self, size: Sequence, k: Sequence, where: str, static: bool) -> None:
        """The dilated filter must fit in the padded input (at least one output position)."""
        when = "" if static else " at run time"
        for axis, name in enumerate(("rows", "columns")):
            n, ki = size[axis], k[axis]
            if ki is not None and ki < 1:
                raise ValueError(f"{where}: the filters have {ki} {name}{when}; filter shape must have at "
                                 f"least one row and one column (filter spatial shape {tuple(k)})")
            if n is None or ki is None:
                continue
            before, after = self.pad_axis(axis, ki)
            padded = n + before + after
            extent = dilated(ki, self.filter_dilation[axis])
            if extent > padded:
                raise ValueError(
                    f"{where}: the filter ({ki} {name}, {extent} with filter_dilation "
                    f"{self.filter_dilation}) is larger than the input ({n} {name}, {padded} after "
                    f"padding with border_mode={self.border_mode!r}){when}; spatial shapes: input "
                    f"{tuple(size)}, filter {tuple(k)}")

    def check_channels(self, in_channels: Any, n_filters: Any, filter_channels: Any, where: str,
                       shapes: str) -> None:
        """Channel counts agree with the filters and num_groups (skips unknown entries)."""
        g = self.num_groups
        if n_filters is not None and n_filters % g:
            raise ValueError(f"{where}: the number of filters ({n_filters}) is not divisible by num_groups={g}; "
                             f"{shapes}")
        if in_channels is not None and in_channels % g:
            raise ValueError(f"{where}: the number of input channels ({in_channels}) is not divisible by "
                             f"num_groups={g}; {shapes}")
        if in_channels is not None and filter_channels is not None and in_channels != filter_channels * g:
            raise ValueError(f"{where}: the input has {in_channels} channels but the filters expect "
                             f"{filter_channels} * num_groups={g} = {filter_channels * g}; {shapes}")

    def check_hint(self, hint: tuple, shape: Sequence, what: str, where: str, static: bool) -> None:
        """A given ``input_shape``/``filter_shape`` agrees with the actual (static) shape."""
        for h, s in zip(hint, shape):
            if h is not None and s is not None and h != s:
                when = "static shape" if static else "shape at run time"
                raise ValueError(f"{where}: {what}={hint} was given but the {when} is {tuple(shape)}")

    def flip(self, kern: np.ndarray) -> np.ndarray:
        """The correlation kernel: filters flipped in both spatial axes when filter_flip."""
        return kern[:, :, ::-1, ::-1] if self.filter_flip else kern

    def _float_inputs(self, where: str, **named: Variable) -> None:
        for name, v in named.items():
            if v.ndim != 4:
                raise TypeError(f"{where}: {name} must be a 4-d tensor (two leading axes, then rows and "
                                f"columns), got a {v.ndim}-d tensor of type {v.type}")
            if v.dtype[0] != "f":
                raise TypeError(f"{where}: {name} must have a float dtype, got {v.dtype}")


# ---------------------------------------------------------------------------------------------
# numpy kernels
# ---------------------------------------------------------------------------------------------
def pad_input(x: np.ndarray, pads: tuple) -> np.ndarray:
    """Zero-pad the two spatial axes of a (batch, channels, rows, cols) array."""
    if not any(p for pair in pads for p in pair):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pads))


def patches(xp: np.ndarray, k: Sequence, params: ConvParams, out: Sequence) -> np.ndarray:
    """(batch, channels, out_rows, out_cols, k_rows, k_cols) strided view of a padded input:
    the values each output position multiplies with the filter taps."""
    (dh, dw), (sh, sw) = params.filter_dilation, params.subsample
    win = sliding_window_view(xp, (dilated(k[0], dh), dilated(k[1], dw)), axis=(2, 3))
    return win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :out[0], :out[1]]


def im2col(xp: np.ndarray, k: Sequence, params: ConvParams, out: Sequence) -> np.ndarray:
    """Windows as rows: (groups, batch * out_rows * out_cols, channels_per_group * k_rows * k_cols)."""
    b, c = xp.shape[:2]
    g = params.num_groups
    p = patches(xp, k, params, out).reshape(b, g, c // g, out[0], out[1], k[0], k[1])
    return p.transpose(1, 0, 3, 4, 2, 5, 6).reshape(g, b * out[0] * out[1], (c // g) * k[0] * k[1])


def correlate(xp: np.ndarray, w: np.ndarray, params: ConvParams, out: Sequence, dtype: str) -> np.ndarray:
    """Grouped, strided, dilated cross-correlation of a padded input with kernel ``w``."""
    b = xp.shape[0]
    f, g = w.shape[0], params.num_groups
    cols = im2col(xp, w.shape[2:], params, out)
    wm = w.reshape(g, f // g, -1).astype(dtype, copy=False)
    res = np.matmul(cols.astype(dtype, copy=False), wm.transpose(0, 2, 1))   # g, b*oh*ow, f/g
    res = res.reshape(g, b, out[0], out[1], f // g).transpose(1, 0, 4, 2, 3).reshape(b, f, out[0], out[1])
    return np.ascontiguousarray(res, dtype=dtype)


def check_runtime(params: ConvParams, where: str, img_shape: tuple, kern_shape: tuple) -> None:
    """Run-time versions of the build-time checks, on concrete shapes."""
    shapes = f"input shape {img_shape}, filter shape {kern_shape}"
    params.check_hint(params.imshp, img_shape, "input_shape", where, static=False)
    params.check_hint(params.kshp, kern_shape, "filter_shape", where, static=False)
    params.check_channels(img_shape[1], kern_shape[0], kern_shape[1], where, shapes)
    params.check_fits(img_shape[2:], kern_shape[2:], where, static=False)


# ---------------------------------------------------------------------------------------------
# the forward op
# ---------------------------------------------------------------------------------------------
class Conv2d(ConvParams):
    """Theano's AbstractConv2d: ``output = conv(input, filters)`` with the options in
    ``ConvParams``. The output dtype is numpy's promotion of the two input dtypes."""

    def make_node(self, img: Any, kern: Any) -> Apply:
        img, kern = as_tensor_variable(img), as_tensor_variable(kern)
        self._float_inputs("conv2d", input=img, filters=kern)
        ishp = tuple(_merge_static(s, h) for s, h in zip(img.type.shape, self.imshp))
        kshp = tuple(_merge_static(s, h) for s, h in zip(kern.type.shape, self.kshp))
        self.check_hint(self.imshp, img.type.shape, "input_shape", "conv2d", static=True)
        self.check_hint(self.kshp, kern.type.shape, "filter_shape", "conv2d", static=True)
        self.check_channels(ishp[1], kshp[0], kshp[1], "conv2d",
                            f"input shape {ishp}, filter shape {kshp} (None: unknown until run time)")
        self.check_fits(ishp[2:], kshp[2:], "conv2d", static=True)
        out_shape = (ishp[0], kshp[0]) + self.static_out_size(ishp[2:], kshp[2:])
        return Apply(self, [img, kern], [TensorType(upcast(img.dtype, kern.dtype), shape=out_shape)()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        img, kern = inputs
        check_runtime(self, "conv2d", img.shape, kern.shape)
        k = kern.shape[2:]
        out = self.out_size(img.shape[2:], k)
        xp = pad_input(img, self.pads(k))
        output_storage[0][0] = correlate(xp, self.flip(kern), self, out, node.outputs[0].dtype)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        ishp, kshp = input_shapes
        return [(ishp[0], kshp[0]) + self.out_size(ishp[2:], kshp[2:])]

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        from .conv_grad import Conv2dGradInputs, Conv2dGradWeights
        from .shape import shape_i
        img, kern = inputs
        (gz,) = output_grads
        params = self.params()
        g_img = Conv2dGradInputs(**params)(kern, gz, (shape_i(img, 2), shape_i(img, 3)))
        g_kern = Conv2dGradWeights(**params)(img, gz, (shape_i(kern, 2), shape_i(kern, 3)))
        return [g_img, g_kern]

    def R_op(self, inputs: list, eval_points: list) -> list:
        img, kern = inputs
        e_img, e_kern = eval_points
        terms = []
        if e_img is not None:
            terms.append(self(e_img, kern))
        if e_kern is not None:
            terms.append(self(img, e_kern))
        return [add_terms(terms, upcast(img.dtype, kern.dtype))]

    def vectorize_node(self, node: Apply, img: Variable, kern: Variable) -> list:
        """An extra leading axis on the input only: merge it into the batch axis."""
        if kern.ndim != 4:
            raise NotImplementedError("Conv2d has no batching rule for batched filters")
        if img.ndim == 4:
            return [self(img, kern)]
        from .shape import reshape, shape_i
        flat = reshape(img, (shape_i(img, 0) * shape_i(img, 1), shape_i(img, 2), shape_i(img, 3),
                             shape_i(img, 4)), ndim=4)
        out = Conv2d(**{**self.params(), "imshp": None})(flat, kern)
        return [reshape(out, (shape_i(img, 0), shape_i(img, 1), shape_i(out, 1), shape_i(out, 2),
                              shape_i(out, 3)), ndim=5)]


def add_terms(terms: list, dtype: str) -> Variable | None:
    """The sum of the non-None terms cast to ``dtype`` (None when there are none)."""
    from .elemwise import cast
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return cast(out, dtype)


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
@traced
def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           image_shape: Any = None, filter_dilation: Any = (1, 1), num_groups: int = 1,
           unshared: bool = False, **kwargs: Any) -> Variable:
    """Theano 1.0's ``tensor.nnet.conv2d``: a 2-d convolution of a batch of multi-channel images.

    ``input``: (batch, channels, rows, cols); ``filters``: (n_filters, channels // num_groups,
    f_rows, f_cols). ``input_shape``/``filter_shape`` are optional 4-entry hints (ints or None),
    checked against the actual shapes. ``border_mode``: 'valid' (no padding), 'full' (pad by
    the dilated filter size - 1), 'half' (pad by half of it), an int, a pair ``(rows, cols)``
    or a pair of pairs ``((top, bottom), (left, right))`` of zero padding. ``subsample`` is the
    stride, ``filter_dilation`` the spacing of the filter taps; ``filter_flip=False`` computes a
    cross-correlation instead of a convolution; ``num_groups`` splits the channels and filters
    into independent groups. ``image_shape`` is the deprecated name of ``input_shape``.
    """
    for old in ("imshp_logical", "kshp_logical"):
        if old in kwargs:
            raise ValueError(f"conv2d: keyword argument {old!r} is not supported anymore (as in Theano 1.0)")
    if kwargs:
        raise TypeError(f"conv2d() got unexpected keyword argument(s) {sorted(kwargs)}")
    if unshared:
        raise ValueError("conv2d: unshared=True (a different filter per output position) is not supported")
    if image_shape is not None:
        if input_shape is not None:
            raise ValueError("conv2d: give input_shape or its deprecated alias image_shape, not both")
        warnings.warn("conv2d: the image_shape parameter is deprecated; use input_shape", DeprecationWarning,
                      stacklevel=3)
        input_shape = image_shape
    op = Conv2d(input_shape, filter_shape, border_mode, subsample, filter_flip, filter_dilation, num_groups)
    return op(input, filters)


@traced
def conv2d_legacy(input: Any, filters: Any, image_shape: Any = None, filter_shape: Any = None,
                  border_mode: str = "valid", subsample: Any = (1, 1), **kwargs: Any) -> Variable:
    """Theano's old ``tensor.nnet.conv.conv2d`` (ConvOp): a true convolution (flipped filters)
    with border_mode 'valid' or 'full'; ``image_shape``/``filter_shape`` are shape hints.
    Deprecated in Theano 1.0 in favour of ``tensor.nnet.conv2d``, which it now calls."""
    if border_mode not in ("valid", "full"):
        raise ValueError(f"conv.conv2d: border_mode must be 'valid' or 'full' (the old interface), "
                         f"got {border_mode!r}; use tensor.nnet.conv2d for the other modes")
    unknown = set(kwargs) - {"imshp", "kshp", "nkern", "bsize", "verbose", "openmp", "unroll_batch",
                             "unroll_kern", "unroll_patch"}
    if unknown:
        raise TypeError(f"conv.conv2d() got unexpected keyword argument(s) {sorted(unknown)}")
    warnings.warn("tensor.nnet.conv.conv2d is deprecated; use tensor.nnet.conv2d instead",
                  DeprecationWarning, stacklevel=3)
    return Conv2d(image_shape, filter_shape, border_mode, subsample, True)(input, filters)
