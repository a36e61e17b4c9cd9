"""Keras layers: ``lamina.layers.Dense(64, activation="relu")`` and friends."""
from .conv import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .conv_reshaping import SpatialDropout2D, UpSampling2D, ZeroPadding2D
from .core import Activation, Dense, Input, InputLayer
from .embedding import Embedding, Masking
from .layer import InputSpec, Layer
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                      MaxPooling1D, MaxPooling2D)
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .regularization import Dropout, SpatialDropout1D
from .reshaping import Flatten, RepeatVector, Reshape
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Dropout",
           "SpatialDropout1D", "Flatten", "Reshape", "RepeatVector",
           "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose",
           "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "BatchNormalization", "ZeroPadding2D", "UpSampling2D",
           "SpatialDropout2D",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Concatenate", "Dot", "add", "subtract", "multiply", "average", "maximum", "minimum",
           "concatenate", "dot",
           "Embedding", "Masking", "RNN", "LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell",
           "SimpleRNNCell", "StackedRNNCells", "Bidirectional", "TimeDistributed"]
