"""Keras 3 optimizers over lamina's fused multi-tensor update kernels.

One training step is ONE native call that updates every weight (``sgd_step``, ``adam_step``, ...:
lists of arrays updated in place). The lists of weight and slot arrays are built once per set of
variables and reused, so a step allocates nothing in Python beyond the gradient list. Formulas
are Keras' (see csrc/cpu/optimizers.h), not PyTorch's: SGD, RMSprop, Adam, AdamW, Adagrad,
Adamax, Nadam, Adadelta, Lion.

Every optimizer takes Keras' common arguments: weight_decay (decoupled, ``w -= w * wd * lr``
before the update, inside the kernel), clipnorm (each gradient to that L2 norm), global_clipnorm
(all gradients together), clipvalue (elementwise), loss_scale_factor (gradients divided by it).
use_ema and gradient_accumulation_steps are not implemented: they raise NotImplementedError.
"""
import numbers

import numpy as np

from . import backend
from .autograd import Tensor
from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adamax", "Nadam",
           "Adadelta", "Lion", "get", "serialize", "deserialize"]


def _number(value, name, where, allow_none=False):
    """A hyperparameter as a Python float: Python and numpy numbers, 0-d arrays and scalar
    Tensors are accepted (np.float32(0.9) is as good as 0.9)."""
    if value is None and allow_none:
        return None
    if isinstance(value, Tensor):
        value = value.data
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy/cupy scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"[{where}] argument `{name}` must be a number, got {value!r}")
    return float(value)


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


def _sum_of_squares(g):
    flat = g.reshape(-1)
    return float(flat @ flat)


class Optimizer:
    """Base class: learning rate (float or a schedule ``f(iterations)``), gradient clipping,
    decoupled weight decay, the iteration counter and lazily created slots per weight."""

    _SLOTS = ()  # names of per-weight state arrays
    _SCALAR_STATE = ()  # attributes a saved model keeps besides iterations and the slots

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        where = type(self).__name__
        if kwargs:
            raise TypeError(f"{where}: unrecognized keyword arguments: {sorted(kwargs)}")
        if use_ema or gradient_accumulation_steps:
            raise NotImplementedError(f"{where}: use_ema and gradient_accumulation_steps are "
                                      "not supported by lamina yet")
        weight_decay, clipnorm, clipvalue, global_clipnorm, loss_scale_factor = (
            _number(v, n, where, allow_none=True) for v, n in (
                (weight_decay, "weight_decay"), (clipnorm, "clipnorm"),
                (clipvalue, "clipvalue"), (global_clipnorm, "global_clipnorm"),
                (loss_scale_factor, "loss_scale_factor")))
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or _snake(type(self).__name__)
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
        if isinstance(value, dict):  # a schedule's config, from a saved model
            value = deserialize_keras_object(value)
        if not callable(value) or isinstance(value, Tensor):
            value = _number(value, "learning_rate", type(self).__name__)
        self._learning_rate = value

    # -- slots -------------------------------------------------------------------------------
    def build(self, variables):
        """Creates the slot arrays for `variables` (zeros, like Keras, unless the optimizer
        says otherwise: Adagrad's accumulators start at initial_accumulator_value)."""
        variables = list(variables)
        seen = set()
        for v in variables:
            if id(v) in seen:  # the fused kernels would update it twice at once, racing
                raise ValueError(f"{type(self).__name__}: variable "
                                 f"{getattr(v, 'name', None)!r} appears more than once in the "
                                 f"variables to update ({len(variables)} given)")
            seen.add(id(v))
        self._vars = variables
        self._var_ids = [id(v) for v in variables]
        self._params = [v.data for v in variables]
        for p in self._params:
            if not (hasattr(p, "flags") and p.flags.c_contiguous):
                raise ValueError(f"{type(self).__name__}: weights must be C-contiguous numpy "
                                 "(or cupy) arrays")
        self._slots = {}
        for name in self._active_slots():
            value = self._slot_initial_value(name)
            self._slots[name] = [backend.array_module(p).full_like(p, value) if value else
                                 backend.array_module(p).zeros_like(p) for p in self._params]
        self._constrained = [(v, v.constraint) for v in variables
                             if getattr(v, "constraint", None) is not None]
        self.built = True

    def _active_slots(self):
        return self._SLOTS

    def _slot_initial_value(self, name):
        return 0.0

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
        """One update of every variable from its gradient (arrays or Tensors, None = zero):
        unscale (loss_scale_factor), clip, then the fused kernel (which applies weight decay
        first), as Keras' apply does."""
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
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = self._clip_gradients(grads)
        lr = self.learning_rate  # a schedule sees the step count before this update, as Keras
        self.iterations += 1
        self._step(params, grads, lr, self.iterations)
        for v, constraint in self._constrained:
            v.data[...] = constraint(v.data)

    def _clip_gradients(self, grads):
        """Keras' _clip_gradients: clipnorm scales each gradient to at most that L2 norm,
        global_clipnorm all of them together, clipvalue clips elementwise (a non-positive value
        disables each). A NaN or infinite norm makes the gradients NaN, as in Keras."""
        if self.clipnorm and self.clipnorm > 0:
            return [self._scaled(g, self.clipnorm, np.sqrt(_sum_of_squares(g))) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = float(np.sqrt(sum(_sum_of_squares(g) for g in grads)))
            if not np.isfinite(norm):  # Keras' scale picks up norm - norm: NaN
                return [g * g.dtype.type(np.nan) for g in grads]
            return [self._scaled(g, self.global_clipnorm, norm) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [backend.array_module(g).clip(g, -v, v) for g in grads]
        return grads

    @staticmethod
    def _scaled(g, clip, norm):
        if norm <= clip:
            return g
        return g * g.dtype.type(clip / norm)  # NaN norm: NaN; inf norm: 0 (inf entries NaN)

    def _step(self, params, grads, lr, step):
        raise NotImplementedError

    @property
    def _weight_decay(self):
        return float(self.weight_decay) if self.weight_decay else 0.0

    def get_config(self):
        lr = self._learning_rate
        return {"name": self.name, "learning_rate": lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
                "loss_scale_factor": self.loss_scale_factor}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate}>"


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


class SGD(Optimizer):
    """``m = momentum * m - lr * g; w += m`` (Nesterov: ``w += momentum * m - lr * g``); plain
    ``w -= lr * g`` when momentum is 0."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        try:
            momentum = _number(momentum, "momentum", "SGD")
        except TypeError:
            momentum = None
        if momentum is None or not 0.0 <= momentum <= 1.0:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = momentum, bool(nesterov)

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
        where = type(self).__name__
        self.rho, self.momentum, self.epsilon = (_number(v, n, where) for v, n in (
            (rho, "rho"), (momentum, "momentum"), (epsilon, "epsilon")))
        self.centered = bool(centered)

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


class _Betas(Optimizer):
    """The beta_1 / beta_2 / epsilon family (Adam, AdamW, Adamax, Nadam)."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, **kwargs):
        super().__init__(learning_rate, **kwargs)
        where = type(self).__name__
        self.beta_1, self.beta_2, self.epsilon = (_number(v, n, where) for v, n in (
            (beta_1, "beta_1"), (beta_2, "beta_2"), (epsilon, "epsilon")))

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class Adam(_Betas):
    """Keras' Adam: ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)``; ``w -= alpha m / (sqrt(v) +
    eps)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.amsgrad = bool(amsgrad)

    def _active_slots(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _step(self, params, grads, lr, step):
        s = self._slots
        backend.kernels(params[0]).adam_step(
            params, grads, s["momentum"], s["velocity"], s.get("velocity_hat"), lr,
            self.beta_1, self.beta_2, self.epsilon, step, self.amsgrad, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(amsgrad=self.amsgrad)
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


class Adagrad(Optimizer):
    """Keras' Adagrad: ``acc += g^2; w -= lr g / sqrt(acc + eps)``, accumulators starting at
    initial_accumulator_value (0.1)."""

    _SLOTS = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        where = type(self).__name__
        self.initial_accumulator_value = _number(initial_accumulator_value,
                                                 "initial_accumulator_value", where)
        self.epsilon = _number(epsilon, "epsilon", where)

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value

    def _step(self, params, grads, lr, step):
        backend.kernels(params[0]).adagrad_step(params, grads, self._slots["accumulator"], lr,
                                                self.epsilon, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        return config


class Adamax(_Betas):
    """Keras' Adamax: ``m += (g - m)(1 - b1); u = max(b2 u, |g|);
    w -= lr m / ((1 - b1^t)(u + eps))``."""

    _SLOTS = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adamax", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)

    def _step(self, params, grads, lr, step):
        s = self._slots
        backend.kernels(params[0]).adamax_step(params, grads, s["momentum"], s["norm"], lr,
                                               self.beta_1, self.beta_2, self.epsilon, step,
                                               self._weight_decay)


class Nadam(_Betas):
    """Keras' Nadam: Adam with Nesterov momentum and the momentum schedule
    ``u_t = b1 (1 - 0.5 * 0.96^t)``, whose running product (``u_product``, 1 before the first
    step) the kernel advances and returns each step."""

    _SLOTS = ("momentum", "velocity")
    _SCALAR_STATE = ("u_product",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="nadam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.u_product = 1.0

    def build(self, variables):
        super().build(variables)
        self.u_product = 1.0

    def _step(self, params, grads, lr, step):
        s = self._slots
        self.u_product = backend.kernels(params[0]).nadam_step(
            params, grads, s["momentum"], s["velocity"], lr, self.beta_1, self.beta_2,
            self.epsilon, step, self.u_product, self._weight_decay)


class Adadelta(Optimizer):
    """Keras' Adadelta: ``a = rho a + (1 - rho) g^2; delta = -sqrt(d + eps) g / sqrt(a + eps);
    d = rho d + (1 - rho) delta^2; w += lr delta``."""

    _SLOTS = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adadelta",
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        where = type(self).__name__
        self.rho, self.epsilon = _number(rho, "rho", where), _number(epsilon, "epsilon", where)

    def _step(self, params, grads, lr, step):
        s = self._slots
        backend.kernels(params[0]).adadelta_step(
            params, grads, s["accumulated_grad"], s["accumulated_delta_var"], lr, self.rho,
            self.epsilon, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config


class Lion(Optimizer):
    """Keras' Lion: ``w -= lr sign(b1 m + (1 - b1) g)``, then ``m = b2 m + (1 - b2) g``."""

    _SLOTS = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="lion", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        where = type(self).__name__
        self.beta_1, self.beta_2 = _number(beta_1, "beta_1", where), \
            _number(beta_2, "beta_2", where)
        if self.beta_1 <= 0 or self.beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                             f"optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")

    def _step(self, params, grads, lr, step):
        backend.kernels(params[0]).lion_step(params, grads, self._slots["momentum"], lr,
                                             self.beta_1, self.beta_2, self._weight_decay)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2)
        return config


_CLASSES = {cls.__name__: cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adamax, Nadam,
                                          Adadelta, Lion)}
_NAMES = {name.lower(): cls for name, cls in _CLASSES.items()}


def serialize(optimizer):
    """{"class_name", "config"} for lamina's optimizers; Keras' full config (module,
    registered name) for others."""
    if type(optimizer) not in _CLASSES.values():
        return serialize_keras_object(optimizer)
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    name = config.get("class_name")
    cls = _CLASSES.get(name) or _NAMES.get(str(name).lower())
    if cls is None or not is_builtin_config(config):
        optimizer = deserialize_keras_object(config)
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"Unknown optimizer: {config!r} is not an Optimizer")
        return optimizer
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """An Optimizer for a name ("adam", "rmsprop", "sgd", "adamw", "adagrad", "adamax",
    "nadam", "adadelta", "lion"; any case), a config dict or an Optimizer instance (returned
    as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower()) or custom_object(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                             f"Known names: {sorted(_NAMES)}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
