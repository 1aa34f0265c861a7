"""``to_onnx``: export a fitted skrnn model or pipeline with dynamic batch and time."""

from skl2onnx import convert_sklearn

from .._data import to_padded
from ._common import lengths_type, tensor_type

__all__ = ["padded", "to_onnx"]


def padded(X, dtype=None):
    """Right-pad sequences into the inputs of an exported model.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps[, n_features]) or list
        Anything ``predict`` takes: a 3-D array, a 2-D table of univariate
        series or a list of sequences of any lengths.
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Element type of the batch; by default float32 stays float32 and
        everything else becomes float64.

    Returns
    -------
    X3 : ndarray of shape (n_samples, max_len, n_features)
        The batch, zero after each sequence's end.
    lengths : ndarray of shape (n_samples,), dtype int64
        Valid steps of each sequence: the ``lengths`` input of a model exported
        with ``lengths=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.onnx import padded
    >>> X3, lengths = padded([np.ones((3, 2)), np.ones((1, 2))])
    >>> X3.shape, lengths
    ((2, 3, 2), array([3, 1]))
    """
    X3, lengths, _ = to_padded(X, dtype=dtype)
    return X3, lengths


def to_onnx(model, X_sample, *, lengths=None, target_opset=None, options=None):
    """Convert a fitted skrnn estimator, transformer or pipeline to ONNX.

    The graph takes ``X`` with a dynamic batch size and, for 3-D input, a
    dynamic number of time steps (a 2-D table keeps the columns seen in fit).
    With ``lengths`` it takes a second input ``lengths``, the valid steps of
    each sequence of a right-padded batch (see :func:`padded`), and then gives
    what ``predict`` gives for the list of sequences.

    Parameters
    ----------
    model : estimator or Pipeline
        Fitted; every step must have an ONNX converter (the skrnn ones are
        registered by importing :mod:`skrnn.onnx`).
    X_sample : array-like or list of sequences
        A few samples of the data ``predict`` takes; only their layout, number
        of features and dtype (float32 or float64) are read.
    lengths : bool, default=None
        Add the ``lengths`` input. None: only when ``X_sample`` is a list of
        sequences.
    target_opset : int, default=None
        ONNX operator set (at least 14); None lets skl2onnx choose.
    options : dict, default=None
        skl2onnx conversion options, e.g. ``{id(seq2seq): {"method":
        "predict"}}`` to export the decoded sequences of a
        :class:`~skrnn.Seq2SeqTransformer` instead of its codes.

    Returns
    -------
    onx : onnx.ModelProto
        Inputs ``X`` (and ``lengths``); outputs as skl2onnx names them
        (``variable`` for regressors and transformers, ``label`` and
        ``probabilities`` for classifiers).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.onnx import to_onnx
    >>> X = np.random.RandomState(0).rand(20, 5, 2).astype(np.float32)
    >>> reg = RNNRegressor("gru", 4, max_iter=2, random_state=0)
    >>> onx = to_onnx(reg.fit(X, X.sum(axis=(1, 2))), X[:1])
    >>> [i.name for i in onx.graph.input]
    ['X']
    """
    X3, _, kind = to_padded(X_sample, name="X_sample")  # float32 or float64
    if lengths is None:
        lengths = kind in ("list", "list1d")
    if kind == "table":
        shape = [None, X3.shape[1]]
    else:
        shape = [None, None, X3.shape[2]]
    initial_types = [("X", tensor_type(X3.dtype, shape))]
    if lengths:
        initial_types.append(("lengths", lengths_type()))
    return convert_sklearn(
        model, initial_types=initial_types, target_opset=target_opset, options=options
    )
