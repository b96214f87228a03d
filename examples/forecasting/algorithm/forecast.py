"""Two small forecasters behind SageMaker's training container contract.

Run as ``forecast.py train`` (SageMaker runs ``<image> train``) either inside a
container, where SageMaker's files are below ``/opt/ml``, or as a local process
started by ``runtool-iac local``, which sets ``SAGEMAKER_BASE_DIR`` and the
training toolkit's ``SM_*`` variables to a job folder on disk.

- Reads GluonTS-style JSON lines (``{"start": ..., "target": [...]}``) from
  the ``train`` and ``test`` channels; a test series is its train series plus
  the ``prediction_length`` points to forecast.
- Hyperparameters (all strings, as SageMaker passes them): ``method``
  (``seasonal_naive`` or ``ar``), ``prediction_length``, ``season_length``,
  ``freq``, and for ``ar`` ``lags`` and ``ridge``.
- ``ar`` is one global ridge autoregression on mean-scaled series, fitted on
  the train channel and applied recursively.
- Prints ``MASE=...`` and ``sMAPE=...`` (the metric regexes in the configs
  scrape these lines), writes ``model.json`` to the model folder, and on bad
  input writes the reason to ``output/failure`` and exits non-zero, which is
  how SageMaker learns a job's ``FailureReason``.

Pure Python and NumPy; milliseconds on the example's data.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import zlib
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("seasonal_naive", "ar")


class InputError(Exception):
    """Bad data or hyperparameters: the user's to fix, reported as the failure reason."""


# ------------------------------------------------------------------ contract


def sm_root() -> Path:
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))


def sm_path(variable: str, *default: str) -> Path:
    return Path(os.environ[variable]) if variable in os.environ else sm_root().joinpath(*default)


def channel_dir(name: str) -> Path:
    return sm_path(f"SM_CHANNEL_{name.upper()}", "input", "data", name)


def read_hyperparameters() -> dict[str, str]:
    path = sm_path("SM_INPUT_CONFIG_DIR", "input", "config") / "hyperparameters.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read hyperparameters from {path}: {exc}") from None


def read_series(channel: str) -> list[np.ndarray]:
    """Every series in the channel's files (JSON lines; hidden files skipped)."""
    folder = channel_dir(channel)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError(f"channel '{channel}' has no data files in {folder}")
    series = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                target = np.asarray(json.loads(line)["target"], dtype=float)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{path.name}:{number}: not a series with a numeric 'target' ({exc})") from None
            if target.ndim != 1 or not np.all(np.isfinite(target)):
                raise InputError(f"{path.name}:{number}: 'target' must be a list of finite numbers")
            series.append(target)
    if not series:
        raise InputError(f"channel '{channel}' has no series")
    return series


def integer(hps: dict[str, str], name: str, default: int | None = None) -> int:
    text = hps.get(name)
    if text is None:
        if default is None:
            raise InputError(f"hyperparameter '{name}' is required")
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"hyperparameter '{name}' must be a whole number, not {text!r}") from None
    if value < 1:
        raise InputError(f"hyperparameter '{name}' must be at least 1, not {value}")
    return value


def number(hps: dict[str, str], name: str, default: float) -> float:
    try:
        value = float(hps.get(name, default))
    except ValueError:
        raise InputError(f"hyperparameter '{name}' must be a number, not {hps[name]!r}") from None
    if not value >= 0:
        raise InputError(f"hyperparameter '{name}' must be >= 0, not {value}")
    return value


# ------------------------------------------------------------------ models


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season."""
    last = history[-season:]
    return np.array([last[i % season] for i in range(horizon)])


def scale_of(series: np.ndarray) -> float:
    scale = float(np.mean(np.abs(series)))
    return scale if scale > 0 else 1.0


def fit_ar(train: list[np.ndarray], lags: int, ridge: float, seed: int) -> np.ndarray:
    """Least-squares weights of ``[last `lags` values, 1] -> next value`` over all series.

    Fitted on a random 80% of the training windows (a bootstrap-like
    subsample, seeded per job), so repeated runs differ as a stochastic
    learner's would and the results' ± is meaningful.
    """
    rows, targets = [], []
    for series in train:
        z = series / scale_of(series)
        if len(z) <= lags:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(z[:-1], lags)
        rows.append(np.hstack([windows, np.ones((len(windows), 1))]))
        targets.append(z[lags:])
    if not rows:
        raise InputError(f"every train series is shorter than lags + 1 = {lags + 1} points")
    x, y = np.vstack(rows), np.concatenate(targets)
    keep = np.random.default_rng(seed).random(len(y)) < 0.8
    x, y = x[keep], y[keep]
    if ridge == 0:
        return np.linalg.lstsq(x, y, rcond=None)[0]
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    return np.linalg.solve(x.T @ x + penalty, x.T @ y)


def forecast_ar(history: np.ndarray, horizon: int, weights: np.ndarray) -> np.ndarray:
    scale = scale_of(history)
    lags = len(weights) - 1
    window = list(history[-lags:] / scale)
    out = []
    for _ in range(horizon):
        value = float(np.dot(weights[:-1], window[-lags:]) + weights[-1])
        out.append(value)
        window.append(value)
    return np.array(out) * scale


# ------------------------------------------------------------------ metrics


def mase(history: np.ndarray, actual: np.ndarray, forecast: np.ndarray, season: int) -> float:
    """Mean absolute error, scaled by the in-sample seasonal-naive error."""
    naive_error = np.mean(np.abs(history[season:] - history[:-season]))
    return float(np.mean(np.abs(actual - forecast)) / naive_error) if naive_error > 0 else float("nan")


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(actual - forecast), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(np.mean(ratio))


# ------------------------------------------------------------------ main


def train() -> None:
    hps = read_hyperparameters()
    method = hps.get("method", "")
    if method not in METHODS:
        raise InputError(f"hyperparameter 'method' must be one of {', '.join(METHODS)}, not {method!r}")
    horizon = integer(hps, "prediction_length")
    season = integer(hps, "season_length")
    test = read_series("test")
    print(f"method={method} prediction_length={horizon} season_length={season} freq={hps.get('freq', '')}")
    print(f"test: {len(test)} series")

    model: dict[str, Any] = {"method": method, "hyperparameters": hps}
    if method == "ar":
        lags = integer(hps, "lags", 2 * season)
        ridge = number(hps, "ridge", 0.0)
        train_series = read_series("train")
        # SageMaker sets TRAINING_JOB_NAME (unique per run); local mode does too.
        seed = zlib.crc32(os.environ.get("TRAINING_JOB_NAME", "").encode())
        weights = fit_ar(train_series, lags, ridge, seed)
        model["weights"] = weights.tolist()
        print(f"train: {len(train_series)} series; fitted {lags} lags with ridge={ridge}")
        predict = lambda history: forecast_ar(history, horizon, weights)  # noqa: E731
    else:
        predict = lambda history: seasonal_naive(history, horizon, season)  # noqa: E731

    scores: dict[str, list[float]] = {"MASE": [], "sMAPE": []}
    for index, series in enumerate(test):
        if len(series) < horizon + season + 1:
            raise InputError(
                f"test series {index} has {len(series)} points; needs prediction_length + season_length + 1"
                f" = {horizon + season + 1}"
            )
        history, actual = series[:-horizon], series[-horizon:]
        forecast = predict(history)
        scores["MASE"].append(mase(history, actual, forecast, season))
        scores["sMAPE"].append(smape(actual, forecast))

    model_dir = sm_path("SM_MODEL_DIR", "model")
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps(model, indent=1))
    for name, values in scores.items():
        print(f"{name}={np.nanmean(values):.4f}")


def fail(reason: str) -> None:
    """Tell SageMaker why: the first 1024 characters of output/failure become FailureReason."""
    failure = sm_path("SM_OUTPUT_DIR", "output") / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason)
    print(f"error: {reason}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv[1:2] not in ([], ["train"]):
        fail(f"unknown mode {argv[1]!r}; SageMaker runs the image with 'train'")
        return 2
    try:
        train()
    except InputError as exc:
        fail(str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - any crash must still leave a reason
        traceback.print_exc()
        fail(f"unexpected error: {type(exc).__name__}: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
