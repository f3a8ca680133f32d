import numpy as np

from lambdalab import sim


def test_constant_rate_gives_poisson_counts_near_rate_times_duration():
    w = sim.constant(50, 600)
    arrivals = w.arrivals(np.random.default_rng(1))
    assert w.expected() == 30_000
    assert abs(len(arrivals) - 30_000) < 5 * np.sqrt(30_000)
    assert np.all(np.diff(arrivals) >= 0)
    assert arrivals.min() >= 0 and arrivals.max() < 600


def test_diurnal_peak_and_trough_ratio():
    w = sim.diurnal(10, 86_400, peak_to_trough=4.0)
    assert np.isclose(w.rates.mean(), 10, rtol=1e-3)
    assert np.isclose(w.rates.max() / w.rates.min(), 4.0, rtol=1e-3)
    assert int(np.argmax(w.rates)) == 14 * 3600


def test_burst_raises_rate_only_in_its_window():
    w = sim.burst(1, 100, at=40, peak=500, length=10)
    assert list(np.flatnonzero(w.rates == 500)) == list(range(40, 50))
    assert w.expected() == 90 + 5000


def test_trace_reads_azure_2019_per_minute_counts():
    import csv

    from lambdalab.datafiles import data_file

    path = data_file("azure_functions_2019_sample.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["HashOwner", "HashApp", "HashFunction", "Trigger"] and header[-1] == "1440"
    total = sum(int(x) for r in body for x in r[4:])
    w = sim.trace(path)
    assert w.duration == 86_400
    assert np.isclose(w.expected(), total)
    one = sim.trace(path, function=body[0][2])
    first_minute = int(body[0][4])
    assert np.allclose(one.rates[:60], first_minute / 60)
    assert np.isclose(one.expected(), sum(int(x) for x in body[0][4:]))
