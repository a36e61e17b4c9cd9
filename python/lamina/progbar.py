"""The progress display of fit / evaluate / predict, drawn with tqdm in Keras 3's format.

During an epoch (verbose=1)::

    12/45 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9100 - loss: 0.3100

and at its end the same line with the elapsed time and the validation metrics. verbose=2 prints
only the end-of-epoch line, ``45/45 - 1s - 2ms/step - accuracy: ... - loss: ...``.

tqdm does the writing and the rate limiting: a step only bumps tqdm's counter, and the line
(including the metric values, fetched through a callable at that moment) is formatted at most
every ``interval`` seconds, so the display costs next to nothing per step. When the output is
not a terminal (CI logs, files) nothing is drawn mid-epoch: each epoch writes its final line
once, without carriage-return spam.
"""
import sys
import time

from tqdm import tqdm

_WIDTH = 20
_FILLED = "━"


def format_value(value):
    """Keras' format for a metric in the progress line."""
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_logs(logs):
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items()
                   if _is_number(value))


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def format_step_time(seconds, unit="step"):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


_NO_TRIM = 1 << 20


def _line_width(stream):
    """Mid-epoch lines are cut to the terminal's width, so that a carriage return can redraw
    them; an unknown or silly width means no cut."""
    import shutil

    if not _isatty(stream):
        return _NO_TRIM
    columns = shutil.get_terminal_size((0, 0)).columns
    return columns if columns >= 40 else _NO_TRIM


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _KerasTqdm(tqdm):
    """tqdm whose line is Keras' line: the extra fields are computed only when drawn."""

    def __init__(self, *args, progbar=None, **kwargs):
        self._progbar = progbar
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self):
        d = super().format_dict
        pb = self._progbar
        if pb is not None:
            d.update(pb._fields(self.n))
        return d


class Progbar:
    """One progress line over ``target`` steps (None when unknown).

    ``update(current)`` is cheap; the line shows ``logs_fn()`` (a dict of metric values) read at
    drawing time. ``finish(logs)`` draws the final line with the given logs.
    """

    def __init__(self, target, verbose=1, interval=0.1, unit_name="step", stream=None):
        self.target = target
        self.verbose = verbose
        self.unit_name = unit_name
        self.stream = stream if stream is not None else sys.stdout
        self.dynamic = _isatty(self.stream) or "ipykernel" in sys.modules
        self.logs_fn = None
        self._final_logs = None
        self._start = time.perf_counter()
        self._bar = None
        if verbose == 1:
            width = len(str(target)) if target else 1
            self._count_width = width
            # Not a terminal: never redraw mid-epoch (delay/mininterval of a day), draw once
            # at the end.
            never = 86400.0
            self._bar = _KerasTqdm(
                total=target, file=self.stream, progbar=self,
                bar_format="{kcount} {kbar} {ktime} {kstep}{klogs}",
                mininterval=interval if self.dynamic else never,
                delay=0 if self.dynamic else never,
                miniters=None if self.dynamic else 1 << 62,
                dynamic_ncols=False, ncols=_line_width(self.stream), nrows=50, leave=True,
                ascii=False,
                smoothing=0)

    # fields of the line, computed when tqdm draws it
    def _fields(self, n):
        now = time.perf_counter()
        elapsed = now - self._start
        per_step = elapsed / n if n else 0.0
        target = self.target
        if target:
            done = min(n / target, 1.0)
            filled = int(_WIDTH * done)
            kcount = f"{n:>{self._count_width}}/{target}"
        else:
            filled = 0
            kcount = f"{n}/Unknown"
        if self.dynamic:
            kbar = ("\x1b[32m" + _FILLED * filled + "\x1b[0m" if filled else "") + (
                "\x1b[37m" + _FILLED * (_WIDTH - filled) + "\x1b[0m" if filled < _WIDTH else "")
        else:
            kbar = _FILLED * filled + " " * (_WIDTH - filled)
        if self._final_logs is None and target and n < target:
            ktime = format_eta(per_step * (target - n))
        else:
            ktime = f"{elapsed:.0f}s"
        logs = self._final_logs
        if logs is None:
            logs = self.logs_fn() if self.logs_fn is not None else {}
        return {"kcount": kcount, "kbar": kbar, "ktime": ktime,
                "kstep": format_step_time(per_step, self.unit_name),
                "klogs": format_logs(logs)}

    def update(self, current):
        """Move to step ``current`` (1-based count of finished steps)."""
        bar = self._bar
        if bar is not None and current > bar.n:
            bar.update(current - bar.n)

    def finish(self, current, logs=None):
        """Draws the final line (verbose 1 or 2) with ``logs`` and ends it."""
        self._final_logs = dict(logs or {})
        if self.verbose == 1:
            bar = self._bar
            if current > bar.n:
                bar.n = current
            bar.ncols = _NO_TRIM  # the final line is the one people read: never cut it
            if self.dynamic:
                bar.close()
            else:
                bar.display()
                self.stream.write("\n")
                bar.close()
            self._bar = None
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self._start
            per_step = elapsed / current if current else 0.0
            width = len(str(self.target)) if self.target else 1
            count = f"{current:>{width}}/{self.target or current}"
            self.stream.write(
                f"{count} - {elapsed:.0f}s - {format_step_time(per_step, self.unit_name)}"
                f"{format_logs(self._final_logs)}\n")
        self.stream.flush()

    def close(self):
        """Abandons the line (an exception interrupted the loop)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
