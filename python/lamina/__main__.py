"""Command line: ``python -m lamina demo`` trains a small network on the bundled digits."""
import argparse
import sys
import time


def demo(args):
    import numpy as np

    import lamina as L
    from lamina import layers

    L.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = L.datasets.digits.load_data()
    # Raw 8x8 images with values 0..16 -> vectors of 64 values in [0, 1].
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0
    model = L.Sequential([
        L.Input((64,)),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(optimizer=L.optimizers.Adam(learning_rate=0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_split=0.1,
              verbose=args.verbose)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f}), trained in {seconds:.2f} s")
    return 0 if accuracy >= 0.95 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lamina")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train a Dense network on the bundled digits")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", default="auto", type=lambda v: v if v == "auto" else int(v))
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
