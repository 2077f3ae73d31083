"""End to end in a real browser: headless Chromium (Debian's) driving the sample app served
by the app.yaml entrypoint's server (granian) against the Datastore emulator and
fake-gcs-server.

fake-gcs-server stands in for Cloud Storage here because it answers CORS preflights, as
a bucket configured for browser uploads does (docs/storage.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import typing as t
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.http_servers import app_yaml_entrypoint, entrypoint_argv
from gae.emulators import DatastoreEmulator, StorageEmulator

ROOT = Path(__file__).resolve().parents[2]
SECRET = "browser-e2e-secret-key-0123456789abcdef"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(
    datastore_emulator: DatastoreEmulator, fake_gcs_emulator: StorageEmulator
) -> Iterator[str]:
    datastore_emulator.reset()
    fake_gcs_emulator.reset()
    port = _free_port()
    # The root app.yaml's entrypoint, only bound to a free loopback port instead of $PORT.
    args = entrypoint_argv(app_yaml_entrypoint(), "127.0.0.1", port)
    env = {
        **os.environ,
        **datastore_emulator.env,
        **fake_gcs_emulator.env,
        "GCS_BUCKET": str(fake_gcs_emulator.bucket),
        "SECRET_KEY": SECRET,
    }
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"The server did not start: {proc.stderr.read()!r}"
                    ) from None  # type: ignore[union-attr]
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    return path


def _big_zip(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.bin", os.urandom(size))
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_sign_up_post_attach_small_and_large_download_and_log_out(
    server: str, browser: t.Any, tmp_path: Path
) -> None:
    sign_up_post_attach_download_and_log_out(server, browser, tmp_path)


def _replaced(error: Exception) -> bool:
    """Chromium's answer when the page navigated between finding a node and reading it."""
    return "does not belong to the document" in str(error)


def _text_in(selector: str, text: str) -> t.Callable[[t.Any], bool]:
    """A wait condition: ``text`` in the element at ``selector``, across a navigation.

    After a form's submit button is clicked the old page may still answer the lookup and
    then be replaced before its text is read: that is "not yet", not a failure.
    """
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.common.by import By

    def present(driver: t.Any) -> bool:
        try:
            return text in driver.find_element(By.CSS_SELECTOR, selector).text
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        except WebDriverException as error:
            if _replaced(error):
                return False
            raise

    return present


def sign_up_post_attach_download_and_log_out(server: str, browser: t.Any, tmp_path: Path) -> None:
    """What a person does on the noticeboard at ``server``, in ``browser``: sign up, post,
    attach a small file through the form and one over 32 MiB straight to the bucket,
    download both (compared byte for byte) and log out; no page breaks the CSP."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    small = _png(tmp_path / "photo.png")
    large = _big_zip(tmp_path / "archive.zip", 33 * 1024 * 1024)  # over the 32 MiB limit

    browser.get(f"{server}/auth/signup")
    browser.find_element(By.NAME, "username").send_keys("browser_user")
    browser.find_element(By.NAME, "password").send_keys("a long password")
    browser.find_element(By.CSS_SELECTOR, "form.stack button").click()
    wait.until(_text_in(".flash", "Welcome"))

    browser.get(f"{server}/new")
    browser.find_element(By.NAME, "title").send_keys("From a real browser")
    browser.find_element(By.NAME, "text").send_keys("Line one\nLine <two>")
    browser.find_element(By.CSS_SELECTOR, "form.stack button").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article.post h1")))
    assert browser.find_element(By.CSS_SELECTOR, "article.post h1").text == "From a real browser"
    post_url = browser.current_url

    browser.find_element(By.ID, "small-file").send_keys(str(small))
    browser.find_element(By.CSS_SELECTOR, "form[enctype='multipart/form-data'] button").click()
    wait.until(_text_in(".attachments", "photo.png"))

    browser.find_element(By.ID, "large-file").send_keys(str(large))
    browser.find_element(By.CSS_SELECTOR, "#direct-upload button").click()

    def uploaded(driver: t.Any) -> bool:
        from selenium.common.exceptions import (
            StaleElementReferenceException,
            WebDriverException,
        )

        try:
            status = driver.find_elements(By.ID, "direct-status")
            text = status[0].text if status else ""
            if text not in {"", "Done."} and "..." not in text:
                raise AssertionError(f"direct upload failed: {text}")
            return "archive.zip" in driver.find_element(By.CSS_SELECTOR, ".attachments").text
        except StaleElementReferenceException:
            return False  # the page reloaded between finding an element and reading it
        except WebDriverException as error:
            if _replaced(error):
                return False
            raise

    wait.until(uploaded)

    # Download both with the browser's session and compare with what was uploaded.
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    links = {
        a.text: a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, ".attachments a")
    }
    for name, original in (("photo.png", small), ("archive.zip", large)):
        request = urllib.request.Request(links[name], headers={"Cookie": cookies})
        with urllib.request.urlopen(request, timeout=120) as response:
            assert _sha256(response.read()) == _sha256(original.read_bytes()), name

    browser.get(post_url)
    console = _console(browser)  # everything logged on the way here
    browser.find_element(By.CSS_SELECTOR, "header form.inline button").click()
    wait.until(_text_in(".flash", "logged out"))
    assert "Log in" in browser.find_element(By.CSS_SELECTOR, "header nav").text

    # No page, form post, fetch or upload broke the Content-Security-Policy ...
    console += _console(browser)
    assert not [m for m in console if "Content Security Policy" in m], console
    # ... and a violation would have shown: an inline script, which the policy refuses.
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.ran === undefined")
    refused = [m for m in _console(browser) if "Content Security Policy" in m]
    assert refused and "inline script" in refused[0], refused


def _console(browser: t.Any) -> list[str]:
    """The browser console's messages since the last call."""
    return [str(entry["message"]) for entry in browser.get_log("browser")]
