"""BatchNormalization with Keras 3's arguments, defaults and weight order (gamma, beta,
moving_mean, moving_variance; the moving statistics are non-trainable).

Training (``training=True`` and the layer trainable) normalizes with the batch's statistics in
one fused kernel call and updates ``moving = moving * momentum + batch * (1 - momentum)`` with
the biased batch variance, as Keras does; inference normalizes with the moving statistics.
With a mask (one value per position of the input without its last axis, as an Embedding with
mask_zero gives), the batch statistics are Keras' masked moments: the mean and variance over
the positions the mask keeps; every position is still normalized.
"""
from .. import backend, constraints, initializers, ops, regularizers
from ..autograd import Tensor
from ..ops import normalization as norm_ops
from .layer import InputSpec, Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization '{self.name}': `axis` must be an int, got "
                             f"{axis!r}")
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization '{self.name}': `epsilon` must be > 0, got "
                             f"{epsilon}")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is out of "
                             f"range for an input of shape {tuple(input_shape)}")
        C = input_shape[self.axis]
        if C is None:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} of the input "
                             f"must be known, got shape {tuple(input_shape)}")
        C = int(C)
        self.gamma = self.add_weight(shape=(C,), initializer=self.gamma_initializer,
                                     name="gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight(shape=(C,), initializer=self.beta_initializer, name="beta",
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight(shape=(C,), initializer=self.moving_mean_initializer,
                                           name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=(C,),
                                               initializer=self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: C})
        self.built = True

    def call(self, inputs, training=False, mask=None):
        if mask is not None:
            mask = mask.data if isinstance(mask, Tensor) else mask
            if tuple(mask.shape) != tuple(inputs.shape[:-1]):
                raise ValueError(f"BatchNormalization '{self.name}': the mask must have the "
                                 f"shape of the inputs without their last axis: got mask shape "
                                 f"{tuple(mask.shape)} for inputs of shape "
                                 f"{tuple(inputs.shape)}")
        if not (training and self.trainable):
            return norm_ops.batch_normalization(inputs, self.moving_mean.data,
                                                self.moving_variance.data, self.axis,
                                                self.beta, self.gamma, self.epsilon)
        if mask is None:
            y, mean, var = norm_ops.batch_norm_train(inputs, self.gamma, self.beta, self.axis,
                                                     self.epsilon)
        else:
            mean, var = self._masked_moments(inputs, mask)
            y = norm_ops.batch_normalization(inputs, mean, var, self.axis, self.beta,
                                             self.gamma, self.epsilon)
            mean, var = mean.data, var.data
        m = self.momentum
        mm, mv = self.moving_mean.data, self.moving_variance.data
        mm *= m
        mm += (1.0 - m) * mean.astype(mm.dtype, copy=False)
        mv *= m
        mv += (1.0 - m) * var.astype(mv.dtype, copy=False)
        return y

    def _masked_moments(self, x, mask):
        """Keras' masked moments (batch_normalization.py, _moments) as differentiable ops:
        w = mask on every channel, mean = sum(w x) / (sum(w) + 1e-7), variance =
        sum(w (w x - mean)^2) / (sum(w) + 1e-7), sums over every axis but `axis`. (Keras
        counts sum(w) over the mask's own axes only, which for axis != -1 is not the number of
        values summed; here it is.)"""
        ndim = len(x.shape)
        axis = self.axis % ndim
        reduce = tuple(i for i in range(ndim) if i != axis)
        xp = backend.array_module(x.data)
        w = xp.asarray(mask).astype(x.dtype)[..., None]
        count = xp.broadcast_to(w, x.shape).sum(axis=reduce, keepdims=True) + 1e-7
        weighted = ops.multiply(x, w)
        mean = ops.divide(ops.sum(weighted, reduce, keepdims=True), count)
        spread = ops.multiply(ops.square(ops.subtract(weighted, mean)), w)
        var = ops.divide(ops.sum(spread, reduce, keepdims=True), count)
        C = x.shape[axis]
        return ops.reshape(mean, (C,)), ops.reshape(var, (C,))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
        })
        return config
