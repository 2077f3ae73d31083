"""Nothing outlives the process that started the emulators: kill -9, Ctrl-C, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gae.emulators.processes import pid_alive

FRAMEWORK = str(Path(sys.executable).with_name("framework"))


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_killing_the_test_process_group_leaves_no_emulator(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids.json"
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_hold.py").write_text(
        textwrap.dedent(
            f"""
            import json, time

            def test_hold(datastore_emulator, gcs_emulator):
                pids = [datastore_emulator.pid, gcs_emulator.pid]
                with open({str(pid_file)!r}, "w") as f:
                    json.dump(pids, f)
                time.sleep(120)
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(pid_file.exists, 60, "the emulators to start")
        pids = json.loads(pid_file.read_text(encoding="utf-8"))
        assert all(pid_alive(pid) for pid in pids)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _wait_for(lambda: not any(pid_alive(pid) for pid in pids), 15, "emulators to exit")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_killing_only_the_parent_stops_its_emulators(tmp_path: Path) -> None:
    # The parent dies alone (SIGKILL to its pid only): the children still go.
    script = tmp_path / "hold.py"
    pid_file = tmp_path / "pids.json"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, time
            from gae.emulators import Emulators
            group = Emulators("orphan-demo", datastore=True, storage=True)
            group.start()
            with open({str(pid_file)!r}, "w") as f:
                json.dump([e.pid for e in group.members], f)
            time.sleep(120)
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(pid_file.exists, 60, "the emulators to start")
        pids = json.loads(pid_file.read_text(encoding="utf-8"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _wait_for(lambda: not any(pid_alive(pid) for pid in pids), 15, "emulators to exit")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cli_start_prints_exports_env_repeats_them_and_ctrl_c_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    proc = subprocess.Popen(
        [FRAMEWORK, "emulators", "start", "--in-memory", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for((data_dir / "state.json").exists, 60, "the ready state file")
        state = json.loads((data_dir / "state.json").read_text(encoding="utf-8"))
        env = subprocess.run(
            [FRAMEWORK, "emulators", "env", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert "export DATASTORE_EMULATOR_HOST=127.0.0.1:" in env.stdout
        assert "export STORAGE_EMULATOR_HOST=http://127.0.0.1:" in env.stdout
        assert "export CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:" in env.stdout
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == env.stdout.strip()
    assert "Emulators ready: Datastore emulator" in err
    assert " s, Cloud Storage emulator" in err
    assert " s, Cloud Tasks emulator" in err
    assert "Emulators stopped." in err
    assert not (data_dir / "state.json").exists()
    assert not any(pid_alive(pid) for pid in state["pids"])


def test_cli_env_without_running_emulators_says_how_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [FRAMEWORK, "emulators", "env", "--data-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "framework emulators start" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_missing_cloud_cli_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    env.pop("CLOUDSDK_ROOT_DIR", None)
    result = subprocess.run(
        [FRAMEWORK, "emulators", "start", "--in-memory", "--data-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 1
    assert "apt-get install google-cloud-cli-datastore-emulator" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_reaches_the_app_and_not_the_emulators(tmp_path: Path) -> None:
    # A terminal's Ctrl-C signals its whole foreground group. The emulators must outlive
    # the app (the Datastore emulator's save at exit fails if a write arrives meanwhile):
    # the app sees KeyboardInterrupt while every emulator still answers, then stops them.
    report = tmp_path / "report.json"
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            f"""
            import json, time
            from gae.emulators import Emulators

            def answers(member):
                try:
                    return member.process.poll() is None and member.is_healthy()
                except OSError:
                    return False

            groups = [
                Emulators("sigint-demo", data_dir={str(tmp_path)!r} + "/" + backend,
                          storage_backend=backend, tasks_target="127.0.0.1:9")
                for backend in ("fake-gcs-server", "gcp-storage-emulator")
            ]
            members = [m for g in groups for m in g.members]
            try:
                for group in groups:
                    group.start()
                print("ready", flush=True)
                time.sleep(120)
            except KeyboardInterrupt:
                answering = [(m.name, answers(m)) for m in members]
                for group in groups:
                    group.stop()
                with open({str(report)!r}, "w") as f:
                    json.dump({{"answering": answering, "pids": [m.pid for m in members],
                               "saved": [g.datastore.saved for g in groups]}}, f)
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "app.py")],
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own foreground group, as in a terminal
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    result = json.loads(report.read_text(encoding="utf-8"))
    assert all(answered for _, answered in result["answering"]), result["answering"]
    assert len(result["answering"]) == 6
    assert result["saved"] == [True, True]
    assert not any(pid_alive(pid) for pid in result["pids"])
