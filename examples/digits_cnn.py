"""A small convnet on the bundled 8x8 digits: Conv2D + BatchNormalization + MaxPooling2D, then
a Dense classifier, trained with Adam. Seeded; reaches >= 0.97 test accuracy in a few seconds.

    PYTHONPATH=python python examples/digits_cnn.py [--epochs 30]
"""
import argparse
import time

import numpy as np

import lamina as L
from lamina import layers


def build_model():
    return L.Sequential([
        L.Input((8, 8, 1)),
        layers.Conv2D(32, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),                                     # 4x4
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    L.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    # pixels 0..16 -> [0, 1], channels last
    x_train = (x_train.astype(np.float32) / 16.0)[..., None]
    x_test = (x_test.astype(np.float32) / 16.0)[..., None]
    model = build_model()
    model.compile(optimizer=L.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - t0
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} "
          f"({len(x_train)} training images, {args.epochs} epochs in {seconds:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
