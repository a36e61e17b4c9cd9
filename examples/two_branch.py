"""Two inputs, one output: the digits' 64 pixels and their 16 row/column ink profiles go
through separate Dense branches, concatenated into one classifier (the functional API).

    PYTHONPATH=python python examples/two_branch.py
"""
import numpy as np

import lamina as L
from lamina import layers


def features(images):
    x = images.astype("float32") / 16
    profiles = np.concatenate([x.mean(axis=2), x.mean(axis=1)], axis=1)  # 8 rows + 8 columns
    return x.reshape(len(x), 64), profiles


def main():
    L.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    pixels_train, profiles_train = features(x_train)
    pixels_test, profiles_test = features(x_test)

    pixels = L.Input((64,), name="pixels")
    profiles = L.Input((16,), name="profiles")
    a = layers.Dense(64, activation="relu")(pixels)
    b = layers.Dense(16, activation="relu")(profiles)
    x = layers.concatenate([a, b])
    x = layers.Dropout(0.2)(x)
    digit = layers.Dense(10, activation="softmax", name="digit")(x)
    model = L.Model(inputs=[pixels, profiles], outputs=digit, name="two_branch")
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit({"pixels": pixels_train, "profiles": profiles_train}, y_train, epochs=15,
              batch_size=32, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate([pixels_test, profiles_test], y_test, verbose=0)
    print(f"two_branch: test loss {loss:.4f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
