"""
================================================
Forecasting the airline passengers series
================================================

The monthly airline passengers series (1949-1960, shipped with skrnn) has a
trend, a yearly season and a seasonal swing that grows with the level. We
forecast the last two years with a GRU that reads the previous twelve months,
and compare it with two naive forecasts.

Two transformations make the series easy for a small recurrent network:

* the logarithm turns the growing swing into a constant one;
* ``local_level="last"`` reads every window relative to its last month, so
  the network learns the *shape* of the next step (a season and a growth
  rate) instead of a level it has never seen: the test years lie above every
  training value. Predictions come back in the series' own units.

Both models use skrnn's defaults; only the cell and the local level are
chosen. The example is
small enough to run in full in every mode (``SKRNN_EXAMPLES_FAST`` changes
nothing here).
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNRegressor
from skrnn.datasets import load_airline
from skrnn.preprocessing import make_windows

# At the defaults both fits run all max_iter=200 epochs: on 108 windows the
# training loss has not yet gone 25 epochs without improving by tol=1e-4, so
# skrnn warns, as scikit-learn's MLP would. The forecasts below are those of
# the fits as they stand; the warning is silenced only to keep the page
# readable.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

data = load_airline()
months = data.time
log_series = np.log(data.series.astype(float))

# %%
# Windows of twelve months
# ------------------------
# :func:`~skrnn.preprocessing.make_windows` cuts the series into
# ``(12 months, next month)`` pairs in chronological order. The last 24
# windows, whose targets are the years 1959 and 1960, are held out.
window, n_test = 12, 24
X, y = make_windows(log_series, window)
X_train, y_train = X[:-n_test], y[:-n_test]
print(f"{len(X_train)} training windows, {n_test} test windows, shape {X.shape}")

# %%
# A GRU for the next month
# ------------------------
# Every other setting is the default: one layer of 32 units, reading the
# twelve months step by step (``patch_size_`` is 1 for a window this short).
# With ``local_level="last"`` the network sees each window minus its last
# month and learns the next month minus it; ``predict`` adds it back.
reg = RNNRegressor(cell="gru", local_level="last", random_state=0)
reg.fit(X_train, y_train)

forecast = np.exp(reg.predict(X[-n_test:]))
truth = np.exp(y[-n_test:])
seasonal_naive = np.exp(log_series[-n_test - 12 : -12])  # same month last year
last_value = np.exp(X[-n_test:, -1, 0])  # this month = last month

for name, pred in [
    ("GRU", forecast),
    ("same month last year", seasonal_naive),
    ("last month", last_value),
]:
    mae = np.mean(np.abs(pred - truth))
    print(f"{name:>22}: mean absolute error {mae:5.1f} thousand passengers")

# %%
# Forecast against the truth
# --------------------------
test_months = months[-n_test:]
fig, ax = plt.subplots(figsize=(9, 4))
ax.plot(months, data.series, color="0.6", label="observed")
ax.plot(test_months, forecast, "o-", ms=3, color="C1", label="GRU, one month ahead")
ax.plot(test_months, seasonal_naive, "--", color="C2", label="same month last year")
ax.axvline(test_months[0], color="k", lw=0.8, ls=":")
ax.set_ylabel("passengers (thousands)")
ax.set_title("Airline passengers: one-month-ahead forecasts of 1959-1960")
ax.legend(loc="upper left")
fig.tight_layout()

# %%
# A whole year at once
# --------------------
# With ``horizon=12`` each window's target is the next twelve months, and the
# regressor predicts all of them from one read of the window (twelve outputs,
# ``n_outputs_ == 12``). The last window that ends before 1960 forecasts the
# whole of 1960.
horizon = 12
Xh, yh = make_windows(log_series, window, horizon=horizon)
n_train = len(Xh) - 1 - horizon  # targets end before the forecast origin
year = RNNRegressor(cell="gru", local_level="last", random_state=0)
year.fit(Xh[:n_train], yh[:n_train])
print("outputs per window:", year.n_outputs_)

origin = len(Xh) - 1  # input: Jan-Dec 1959, target: Jan-Dec 1960
year_forecast = np.exp(year.predict(Xh[origin : origin + 1])[0])
year_truth = np.exp(yh[origin])
year_naive = np.exp(Xh[origin, :, 0])  # 1960 = 1959 again
for name, pred in [("GRU", year_forecast), ("same month last year", year_naive)]:
    print(f"1960, {name}: mean absolute error {np.mean(np.abs(pred - year_truth)):.1f}")

fig, ax = plt.subplots(figsize=(9, 4))
ax.plot(months[-36:], data.series[-36:], color="0.6", label="observed")
ax.plot(months[-12:], year_forecast, "o-", ms=3, color="C3", label="GRU, 1960 at once")
ax.plot(months[-12:], year_naive, "--", color="C2", label="same month last year")
ax.set_ylabel("passengers (thousands)")
ax.set_title("Twelve months ahead from December 1959")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
