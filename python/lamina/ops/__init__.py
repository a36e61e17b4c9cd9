"""lamina.ops: differentiable functions with Keras' names (keras.ops), over lamina's kernels.

A user's own Layer written with ``build``/``call`` and these functions trains with no gradient
code of its own: every function records its backward step while gradients are recorded.
"""
from . import losses
from .arrays import *  # noqa: F401,F403
from .arrays import __all__ as _arrays_all
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv_all
from .losses import categorical_crossentropy, sparse_categorical_crossentropy
from .math import *  # noqa: F401,F403
from .math import __all__ as _math_all
from .gemm import dot, matmul
from .nn import *  # noqa: F401,F403
from .nn import __all__ as _nn_all
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization_all
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pooling_all
from .rnn import gru, lstm, simple_rnn
from .embedding import embedding
from .ctc import ctc_decode, ctc_loss
from ..autograd import convert_to_tensor  # noqa: F401

__all__ = list(_math_all) + ["matmul", "dot"] + list(_arrays_all) + list(_nn_all) + \
    list(_conv_all) + list(_pooling_all) + list(_normalization_all) + [
    "losses", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "convert_to_tensor", "lstm", "gru", "simple_rnn", "embedding", "ctc_loss", "ctc_decode"]
