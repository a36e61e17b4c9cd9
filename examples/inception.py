"""An Inception block (Szegedy et al., 2014): 1x1, 3x3 and 5x5 convolutions and a pooling
branch side by side over the same input, concatenated along the channels, twice, then a
classifier; on the bundled 8x8 digits.

    PYTHONPATH=python python examples/inception.py
"""
import lamina as L
from lamina import layers


def inception_block(x, filters, name):
    """Four branches over `x`, each keeping the spatial size ('same' padding), concatenated."""
    f1, f3_reduce, f3, f5_reduce, f5, fpool = filters
    b1 = layers.Conv2D(f1, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b3 = layers.Conv2D(f3_reduce, 1, padding="same", activation="relu",
                       name=f"{name}_3x3_reduce")(x)
    b3 = layers.Conv2D(f3, 3, padding="same", activation="relu", name=f"{name}_3x3")(b3)
    b5 = layers.Conv2D(f5_reduce, 1, padding="same", activation="relu",
                       name=f"{name}_5x5_reduce")(x)
    b5 = layers.Conv2D(f5, 5, padding="same", activation="relu", name=f"{name}_5x5")(b5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = layers.Conv2D(fpool, 1, padding="same", activation="relu", name=f"{name}_pool_proj")(bp)
    return layers.concatenate([b1, b3, b5, bp], axis=-1, name=f"{name}_concat")


def main():
    L.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 8, 8, 1).astype("float32") / 16
    x_test = x_test.reshape(-1, 8, 8, 1).astype("float32") / 16

    inp = L.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inp)
    x = inception_block(x, (8, 8, 12, 4, 4, 4), "mixed1")   # 28 channels
    x = layers.MaxPooling2D(2, name="reduce")(x)            # 4x4
    x = inception_block(x, (12, 8, 16, 4, 8, 8), "mixed2")  # 44 channels
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(10, activation="softmax", name="digit")(x)
    model = L.Model(inp, out, name="inception")
    model.summary()
    model.compile(optimizer=L.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=32, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"inception: test loss {loss:.4f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
