"""The budget: its forms, calendar windows, exact charging under concurrency (threads and
processes sharing the data dir), settlement, and the ledger file."""

import json
import subprocess
import sys
import threading
from datetime import datetime, timezone

import pytest

from dalleserver.config import ConfigError, load_config
from dalleserver.costs.budget import Budget, BudgetSpec, Exhausted, parse_budget
from dalleserver.costs.store import FileSpendStore
from dalleserver.storage import StorageError
from tests.conftest import REPO


def at(*parts):
    return datetime(*parts, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text,spec", [
    ("200/day", BudgetSpec(200, "generations", "day")),
    ("20 / hour", BudgetSpec(20, "generations", "hour")),
    ("$50/month", BudgetSpec(50, "dollars", "month")),
    ("$12.50/week", BudgetSpec(12.5, "dollars", "week")),
    ("", None), ("off", None),
])
def test_budget_forms(text, spec):
    assert parse_budget(text) == spec


@pytest.mark.parametrize("text", ["200", "200/year", "1.5/day", "0/day", "$-1/day",
                                  "$/day", "lots/day", "$5"])
def test_bad_budgets_are_startup_errors(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load_config({}, {"HOME": str(tmp_path), "TB_DALLE_BUDGET": text}, cwd=tmp_path)
    assert str(caught.value).startswith("TB_DALLE_BUDGET: invalid value")
    assert "200/day, 20/hour or $50/month" in str(caught.value)


@pytest.mark.parametrize("period,now,starts,ends", [
    ("hour", at(2026, 11, 30, 12, 34, 56), at(2026, 11, 30, 12), at(2026, 11, 30, 13)),
    ("day", at(2026, 11, 30, 23, 59, 59), at(2026, 11, 30), at(2026, 12, 1)),
    ("week", at(2026, 12, 3, 8), at(2026, 11, 30), at(2026, 12, 7)),  # Monday to Monday
    ("month", at(2026, 12, 31, 23), at(2026, 12, 1), at(2027, 1, 1)),
])
def test_windows_are_calendar_periods_in_utc(period, now, starts, ends):
    window = BudgetSpec(1, "generations", period).window(now)
    assert (window.starts.timestamp(), window.ends.timestamp()) == (starts, ends)
    assert window.seconds_left(now) == max(1, int(ends - now))


def test_charges_stop_exactly_at_the_limit_and_settle(tmp_path):
    now = [at(2026, 11, 30, 22)]
    budget = Budget(parse_budget("3/day"), FileSpendStore(tmp_path / "s.json"),
                    clock=lambda: now[0])
    charges = [budget.try_charge(1) for _ in range(3)]
    with pytest.raises(Exhausted) as caught:
        budget.try_charge(1)
    assert caught.value.retry_after == 2 * 3600
    budget.settle(charges[0], 0)  # that run paid for nothing: its unit comes back
    assert budget.remaining() == 1
    budget.try_charge(1)
    budget.charge(1)  # an admin's run: counted beyond the limit
    assert budget.spent() == 4 and budget.remaining() == 0
    now[0] = at(2026, 12, 1, 0, 0, 1)  # a new day
    assert budget.remaining() == 3
    budget.settle(charges[1], 0)  # settles into the day it was charged to
    assert budget.remaining() == 3


def test_threads_never_overshoot(tmp_path):
    budget = Budget(parse_budget("25/day"), FileSpendStore(tmp_path / "s.json"))
    granted = []

    def worker():
        for _ in range(10):
            try:
                granted.append(budget.try_charge(1))
            except Exhausted:
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 25 and budget.spent() == 25


CHARGER = """
import sys
from dalleserver.costs.budget import Budget, Exhausted, parse_budget
from dalleserver.costs.store import FileSpendStore
budget = Budget(parse_budget("30/day"), FileSpendStore(__import__("pathlib").Path(sys.argv[1])))
granted = 0
for _ in range(25):
    try:
        budget.try_charge(1)
        granted += 1
    except Exhausted:
        pass
print(granted)
"""


def test_processes_sharing_the_ledger_never_overshoot(tmp_path):
    path = tmp_path / "spending.json"
    procs = [subprocess.Popen([sys.executable, "-c", CHARGER, str(path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    granted = sum(int(p.communicate(timeout=60)[0]) for p in procs)
    assert granted == 30
    doc = json.loads(path.read_text())
    assert list(doc["windows"].values()) == [30]
    # written atomically: no temp file is left beside the ledger
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spending.json", "spending.json.lock"]


def test_a_garbled_ledger_is_a_clear_error(tmp_path):
    path = tmp_path / "spending.json"
    path.write_text("{not json")
    with pytest.raises(StorageError, match="is not a spending ledger; move it away"):
        FileSpendStore(path).spent("generations/day/2026-11-30T00")


def test_a_garbled_ledger_stops_the_start_with_one_line(tmp_path):
    from tests.conftest import clean_env, run_cli

    data = tmp_path / "data"
    (data / "metrics").mkdir(parents=True)
    (data / "metrics" / "spending.json").write_text("{not json")
    result = run_cli("serve", "--port", "0", "--data-dir", str(data), cwd=tmp_path,
                     env=clean_env(HOME=str(tmp_path), OPENAI_API_KEY="sk-x",
                                   TB_DALLE_BUDGET="5/day"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is not a spending ledger; move it away" in result.stderr
