"""Fast checks of what ships: one copy of the unit and settings file, the printers, the
systemd notifier's launcher rule, the data dir without a home, logs and metrics for operators."""

from __future__ import annotations

import logging
import os
import socket
import types

import pytest

from dalleserver import config as config_module
from dalleserver.config import SETTINGS, ConfigError, default_data_dir, load_config
from dalleserver.observability import process
from dalleserver.observability.instruments import Instruments
from dalleserver.observability.systemd import Notifier, launcher_pids
from dalleserver.packaging import env_text, unit_text
from dalleserver.provider.enhance import Enhancer
from dalleserver.resilience.breaker import CircuitBreaker, CircuitOpenError
from dalleserver.resilience.retry import RetryDecision, RetryPolicy, call_with_retry
from tests.conftest import REPO, clean_env, run_cli
from tests.deploy import opsdoc

DEPLOY = REPO / "deploy"


def test_shipped_unit_and_env_are_the_deploy_files():
    """The package data is a copy of deploy/ (run `make deploy-data` after editing)."""
    assert unit_text() == (DEPLOY / "dalleserver.service").read_text()
    assert env_text() == (DEPLOY / "env.example").read_text()


def test_print_unit_and_print_env_need_no_home_or_config(tmp_path):
    env = {k: v for k, v in clean_env().items() if k != "HOME"}
    env["TB_DALLE_PORT"] = "not a port"  # not even read
    unit = run_cli("print-unit", env=env, cwd=tmp_path)
    assert unit.returncode == 0 and unit.stdout == unit_text()
    settings = run_cli("print-env", env=env, cwd=tmp_path)
    assert settings.returncode == 0 and settings.stdout == env_text()


def test_env_example_names_only_real_settings():
    known = {s.env for s in SETTINGS if s.env}
    named = {line.lstrip("#").split("=", 1)[0] for line in env_text().splitlines()
             if line.startswith("#") and "=" in line and line.lstrip("#")[:1].isupper()}
    assert named and named <= known, named - known


def test_no_home_and_no_passwd_entry_is_a_clear_error(monkeypatch, tmp_path):
    # what expanduser does when neither HOME nor a passwd entry gives a home
    monkeypatch.setattr(config_module.os.path, "expanduser", lambda path: path)
    with pytest.raises(ConfigError, match="--data-dir"):
        default_data_dir({})
    with pytest.raises(ConfigError, match="--data-dir"):
        load_config({}, environ={}, cwd=tmp_path)
    assert load_config({"data_dir": str(tmp_path)}, environ={}, cwd=tmp_path).data_dir == (
        tmp_path)
    assert not (tmp_path / "~").exists()


def test_every_documented_command_block_has_a_test():
    tags = [tag for tag, _ in opsdoc.blocks()]
    assert tags and None not in tags, "a ```sh block in operations.md has no test tag"
    assert set(tags) == set(opsdoc.SCENARIOS)


# -- systemd notifications from a frozen server --------------------------------------------


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        yield str(path), sock


def _until(sock, needle: str) -> str:
    """The next message containing ``needle`` (watchdog pings may come in between)."""
    while True:
        message = sock.recv(4096).decode()
        if needle in message:
            return message


def test_watchdog_pid_of_a_launcher_is_accepted_when_frozen(notify_socket):
    address, sock = notify_socket
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000",
           "WATCHDOG_PID": str(os.getppid())}
    frozen = Notifier(env, launchers=[os.getppid(), 1234])
    assert frozen.watchdog_interval == pytest.approx(0.1)
    frozen.ready("listening")
    message = sock.recv(4096).decode()
    # the launcher stays main PID: a hand-over would hide the server's exit from systemd
    assert "READY=1" in message and "MAINPID" not in message
    frozen.start_watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    frozen.stopping()
    _until(sock, "STOPPING=1")
    # from sources, another process's watchdog is not ours to ping
    assert Notifier(env, launchers=[]).watchdog_interval == 0
    own = Notifier({**env, "WATCHDOG_PID": str(os.getpid())}, launchers=[])
    assert own.watchdog_interval == pytest.approx(0.1)
    own.ready()
    assert f"MAINPID={os.getpid()}" in _until(sock, "READY=1")


def test_launcher_pids_walk_up_from_the_parent():
    assert launcher_pids(frozen=False) == []
    pids = launcher_pids(frozen=True)
    assert pids and pids[0] == os.getppid() and len(pids) <= 2


# -- logs an operator needs ---------------------------------------------------------------


def test_retries_and_breaker_transitions_are_logged(caplog):
    caplog.set_level(logging.INFO)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise OSError("connection reset")
        return "ok"

    assert call_with_retry(flaky, operation="images", classify=lambda e: RetryDecision(True),
                           policy=RetryPolicy(max_attempts=3), sleep=lambda s: None,
                           rand=lambda: 0.5) == "ok"
    retry = next(r for r in caplog.records if r.name == "dalleserver.retry")
    assert retry.levelno == logging.WARNING
    assert (retry.operation, retry.attempt, retry.max_attempts) == ("images", 1, 3)

    breaker = CircuitBreaker("chat", failure_threshold=1, reset_timeout=0)
    with pytest.raises(OSError):
        breaker.call(lambda: (_ for _ in ()).throw(OSError("down")))
    assert breaker.state == "half_open"
    moves = [(r.levelname, r.from_state, r.to_state) for r in caplog.records
             if getattr(r, "breaker", None) == "chat"]
    assert moves[:2] == [("WARNING", "closed", "open"), ("INFO", "open", "half_open")]


def test_enhancement_fallback_is_logged(caplog):
    config = load_config({}, environ={"OPENAI_API_KEY": "sk-test"})

    class Refusing:
        def call(self, fn):
            raise CircuitOpenError("chat", 3.0)

    dress = types.SimpleNamespace(prompt="a base prompt", author_prompt="a poet",
                                  series="nocturne", original="0x" + "ab" * 20)
    prompt, note = Enhancer(config, None, Refusing()).enhance(dress)
    assert prompt == "a base prompt" and note
    record = next(r for r in caplog.records if r.name == "dalleserver.enhance")
    assert record.levelno == logging.WARNING
    assert (record.series, record.address) == ("nocturne", dress.original)


# -- metrics ------------------------------------------------------------------------------


def test_counters_with_known_labels_start_at_zero():
    text = Instruments().text()
    for sample in ('dalleserver_generations_total{outcome="failure"} 0',
                   'dalleserver_openai_requests_total{endpoint="images",outcome="timeout"} 0',
                   'dalleserver_retries_total{operation="chat"} 0'):
        assert sample in text


def test_unreadable_process_values_are_left_out(monkeypatch):
    monkeypatch.setattr(process, "_proc_stat", lambda: None)

    def no_listing(path):
        raise OSError("no such folder")

    monkeypatch.setattr(process.os, "listdir", no_listing)
    lines = Instruments().text().splitlines()
    samples = {line.split("{")[0].split()[0] for line in lines if not line.startswith("#")}
    for name in ("process_resident_memory_bytes", "process_virtual_memory_bytes",
                 "process_open_fds"):
        assert f"# TYPE {name} gauge" in lines
        assert name not in samples
    # what can still be read is still there
    assert {"process_cpu_seconds_total", "process_max_fds"} <= samples


def test_queue_capacity_is_exported_once_known():
    instruments = Instruments()
    assert "\ndalleserver_queue_capacity " not in instruments.text()
    instruments.watch(queue_capacity=lambda: 64)
    assert "\ndalleserver_queue_capacity 64\n" in instruments.text()
