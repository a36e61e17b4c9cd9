"""Residual connections: blocks of two Dense layers whose output is added back to their input
(``layers.add([x, h])``), a DAG the functional API walks like a stack.

    PYTHONPATH=python python examples/residual.py
"""
import lamina as L
from lamina import layers


def residual_block(x, units, name):
    h = layers.Dense(units, activation="relu", name=f"{name}_a")(x)
    h = layers.Dense(units, name=f"{name}_b")(h)
    x = layers.add([x, h], name=f"{name}_add")
    return layers.Activation("relu", name=f"{name}_out")(x)


def main():
    L.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16
    x_test = x_test.reshape(-1, 64).astype("float32") / 16

    inp = L.Input((64,), name="image")
    x = layers.Dense(48, activation="relu", name="stem")(inp)
    for i in range(3):
        x = residual_block(x, 48, f"block{i + 1}")
    out = layers.Dense(10, activation="softmax", name="digit")(x)
    model = L.Model(inp, out, name="residual")
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"residual: test loss {loss:.4f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
