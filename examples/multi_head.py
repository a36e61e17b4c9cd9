"""One input, two heads: the digit's class (softmax, sparse categorical cross-entropy) and a
regression of where its ink sits (centre of mass, row and column, mean squared error).

Keras sums the weighted per-output losses: loss = 1.0 * digit_loss + 0.5 * centre_loss. (For
the mean of the two, use loss_weights=[1/2, 1/2].)

    PYTHONPATH=python python examples/multi_head.py
"""
import numpy as np

import lamina as L
from lamina import layers


def centre_of_mass(images):
    x = images.astype("float32")
    mass = x.sum(axis=(1, 2)) + 1e-6
    idx = np.arange(8, dtype="float32")
    rows = (x.sum(axis=2) * idx).sum(axis=1) / mass
    cols = (x.sum(axis=1) * idx).sum(axis=1) / mass
    return np.stack([rows, cols], axis=1) / 7  # in [0, 1]


def main():
    L.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    c_train, c_test = centre_of_mass(x_train), centre_of_mass(x_test)
    x_train = x_train.reshape(-1, 64).astype("float32") / 16
    x_test = x_test.reshape(-1, 64).astype("float32") / 16

    inp = L.Input((64,), name="image")
    h = layers.Dense(64, activation="relu")(inp)
    h = layers.Dense(32, activation="relu")(h)
    digit = layers.Dense(10, activation="softmax", name="digit")(h)
    centre = layers.Dense(2, activation="sigmoid", name="centre")(h)
    model = L.Model(inp, {"digit": digit, "centre": centre}, name="multi_head")
    model.summary()
    model.compile(optimizer="adam",
                  loss={"digit": "sparse_categorical_crossentropy", "centre": "mse"},
                  loss_weights={"digit": 1.0, "centre": 0.5},
                  metrics={"digit": ["accuracy"], "centre": ["mae"]})
    history = model.fit(x_train, {"digit": y_train, "centre": c_train}, epochs=15,
                        batch_size=32, validation_split=0.1, verbose=2)
    print("history keys:", sorted(history.history))
    logs = model.evaluate(x_test, {"digit": y_test, "centre": c_test}, verbose=0,
                          return_dict=True)
    print(f"multi_head: test digit accuracy {logs['digit_accuracy']:.4f}, centre MAE "
          f"{logs['centre_mae'] * 7:.3f} pixels, total loss {logs['loss']:.4f} = "
          f"{logs['digit_loss']:.4f} + 0.5 x {logs['centre_loss']:.4f}")


if __name__ == "__main__":
    main()
