"""Keras 3 optimizers over lamina's fused multi-tensor update kernels.

One training step is ONE native call that updates every weight (``sgd_step``, ``rmsprop_step``,
``adam_step``: lists of arrays updated in place). The lists of weight and slot arrays are built
once per set of variables and reused, so a step allocates nothing in Python beyond the gradient
list. Formulas are Keras' (see csrc/cpu/optimizers.h), not PyTorch's.
"""
import numpy as np

from . import backend
from .autograd import Tensor

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "get", "serialize", "deserialize"]


def _grad_array(g, like):
    if isinstance(g, Tensor):
        g = g.data
    if g is None:
        return backend.array_module(like).zeros_like(like)
    if g.dtype != like.dtype:
        g = g.astype(like.dtype)
    if not g.flags.c_contiguous:
        g = backend.array_module(g).ascontiguousarray(g)
    return g


class Optimizer:
    """Base class: learning rate (float or a schedule ``f(iterations)``), gradient clipping,
    decoupled weight decay, the iteration counter and lazily created slots per weight."""

    _SLOTS = ()  # names of per-weight state arrays

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: "
                            f"{sorted(kwargs)}")
        if use_ema or gradient_accumulation_steps:
            raise NotImplementedError("use_ema and gradient_accumulation_steps are not "
                                      "supported by lamina yet")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, \
            global_clipnorm
        self.loss_scale_factor = loss_scale_factor
        self.learning_rate = learning_rate
        self.iterations = 0
        self._vars = None  # the variables the slots were built for
        self._vars_list = None  # the list object last passed (a trainer passes the same one)
        self._params = []
        self._slots = {}

    # -- learning rate -----------------------------------------------------------------------
    @property
    def learning_rate(self):
        lr = self._learning_rate
        if callable(lr):
            return float(lr(self.iterations))
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, Tensor):
            value = float(value.data)
        if not callable(value):
            value = float(value)
        self._learning_rate = value

    # -- slots -------------------------------------------------------------------------------
    def build(self, variables):
        """Creates the slot arrays for `variables` (zeros, like Keras)."""
        variables = list(variables)
        self._vars = variables
        self._var_ids = [id(v) for v in variables]
        self._params = [v.data for v in variables]
        for p in self._params:
            if not (hasattr(p, "flags") and p.flags.c_contiguous):
                raise ValueError(f"{type(self).__name__}: weights must be C-contiguous numpy "
                                 "(or cupy) arrays")
        self._slots = {name: [backend.array_module(p).zeros_like(p) for p in self._params]
                       for name in self._active_slots()}
        self._constrained = [(v, v.constraint) for v in variables
                             if getattr(v, "constraint", None) is not None]
        self.built = True

    def _active_slots(self):
        return self._SLOTS

    @property
    def variables(self):
        out = []
        for arrays in self._slots.values():
            out.extend(arrays)
        return out

    def _ensure_built(self, variables):
        if variables is self._vars_list:
            return
        vs = self._vars
        if vs is None or len(vs) != len(variables) or any(
                a is not b for a, b in zip(vs, variables)):
            self.build(variables)
        self._vars_list = variables

    # -- applying gradients ------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars) if grads_and_vars else ((), ())
        return self.apply(list(grads), list(variables))

    def apply(self, grads, trainable_variables=None):
        """One update of every variable from its gradient (arrays or Tensors, None = zero)."""
        if trainable_variables is None:
            if self._vars is None:
                raise ValueError(f"{type(self).__name__}.apply: pass trainable_variables the "
                                 "first time")
            trainable_variables = self._vars
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{type(self).__name__}.apply: {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables")
        self._ensure_built(trainable_variables)
        params = self._params
        grads = [_grad_array(g, p) for g, p in zip(grads, params)]
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        elif self.clipnorm is not None:
            grads = [self._clip_by_norm(g, self.clipnorm) for g in grads]
        elif self.global_clipnorm is not None:
            norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                grads = [g * np.asarray(scale, g.dtype) for g in grads]
        lr = self.learning_rate  # a schedule sees the step count before this update, as Keras
        self.iterations += 1
        self._step(params, grads, lr, self.iterations)
        for v, constraint in self._constrained:
            v.data[...] = constraint(v.data)

    @staticmethod
    def _clip_by_norm(g, clipnorm):
        norm = float(np.sqrt(np.vdot(g, g)))
        return g * np.asarray(clipnorm / norm, g.dtype) if norm > clipnorm else g

    def _step(self, params, grads, lr, step):
        raise NotImplementedError

    @property
    def _weight_decay(self):
        return float(self.weight_decay) if self.weight_decay else 0.0

    def get_config(self):
        lr = self._learning_rate
        return {"name": self.name, "learning_rate": lr if not callable(lr) else repr(lr),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate}>"


class SGD(Optimizer):
    """``m = momentum * m - lr * g; w += m`` (Nesterov: ``w += momentum * m - lr * g``); plain
    ``w -= lr * g`` when momentum is 0."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _active_slots(self):
        return ("momentum",) if self.momentum else ()

    def _step(self, params, grads, lr, step):
        momenta = self._slots.get("momentum")
        backend.kernels(params[0]).sgd_step(params, grads, momenta, lr, self.momentum,
                                            self.nesterov, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config


class RMSprop(Optimizer):
    """Keras' RMSprop: epsilon inside the square root, ``v = rho v + (1 - rho) g^2``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), \
            float(epsilon), bool(centered)

    def _active_slots(self):
        return ("velocity",) + (("momentum",) if self.momentum else ()) + \
            (("average_gradient",) if self.centered else ())

    def _step(self, params, grads, lr, step):
        s = self._slots
        backend.kernels(params[0]).rmsprop_step(
            params, grads, s["velocity"], s.get("momentum"), s.get("average_gradient"), lr,
            self.rho, self.epsilon, self.momentum, self.centered, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config


class Adam(Optimizer):
    """Keras' Adam: ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)``; ``w -= alpha m / (sqrt(v) +
    eps)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), \
            float(epsilon), bool(amsgrad)

    def _active_slots(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _step(self, params, grads, lr, step):
        s = self._slots
        backend.kernels(params[0]).adam_step(
            params, grads, s["momentum"], s["velocity"], s.get("velocity_hat"), lr,
            self.beta_1, self.beta_2, self.epsilon, step, self.amsgrad, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as Keras)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)


_CLASSES = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}
_NAMES = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    name = config.get("class_name")
    cls = _CLASSES.get(name) or _NAMES.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer class_name: {name!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """An Optimizer for a name ("adam", "rmsprop", "sgd", "adamw"), a config dict or an
    Optimizer instance (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                             f"Known names: {sorted(_NAMES)}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
