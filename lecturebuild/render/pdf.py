"""Printable handouts: build/pdf/<lecture>.pdf, the lecture's site page printed by headless Chromium.

The page's print stylesheet (templates/site/assets/site.css: `@media print` and `@page`) leaves out the
navigation, keeps a code block or a figure on one page where a page can hold it, and puts the page
number, the lecture's title and where its outputs come from at the foot of every page. Nothing runs
again: the page is the site's, made from the build's results.

Chromium is $LECTUREBUILD_CHROMIUM, else the first of CHROMIUM_NAMES on the PATH, else an app in the
usual place on macOS.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from lecturebuild.errors import PdfError
from lecturebuild.run.processes import kill_group
from lecturebuild.store import write_atomic

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
                  "microsoft-edge", "msedge")
MAC_APPS = ("/Applications/Chromium.app/Contents/MacOS/Chromium",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
PRINT_SECONDS = 120  # a page that takes longer has something wrong with it (or with the browser)
INSTALL = ("install Chromium (Debian and Ubuntu: apt-get install chromium; Fedora: dnf install chromium; macOS: "
           "brew install --cask chromium) or Google Chrome, or point LECTUREBUILD_CHROMIUM at a Chromium-based browser")


def find_chromium() -> str:
    """The browser that prints; PdfError with how to install one where there is none."""
    chosen = os.environ.get("LECTUREBUILD_CHROMIUM")
    if chosen:
        found = shutil.which(chosen)
        if not found:
            raise PdfError(f"LECTUREBUILD_CHROMIUM={chosen} is not a program this machine can run; {INSTALL}")
        return found
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    for app in MAC_APPS:
        if os.access(app, os.X_OK):
            return app
    raise PdfError(f"doit pdf prints the lecture pages with headless Chromium, and none was found "
                   f"(looked for {', '.join(CHROMIUM_NAMES)} on the PATH); {INSTALL}")


def print_page(page: Path, target: Path, name: str) -> Path:
    """Print the HTML `page` to `target`; the previous PDF stays until a complete new one replaces it."""
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="lecturebuild-pdf-") as scratch:
        out = Path(scratch) / "page.pdf"
        command = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
                   f"--user-data-dir={Path(scratch) / 'profile'}", "--no-pdf-header-footer",
                   f"--print-to-pdf={out}", page.resolve().as_uri()]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to start its sandbox as root
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   errors="replace", start_new_session=True)
        try:
            _, errors = process.communicate(timeout=PRINT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise PdfError(f"{name}: {browser} did not print the page within {PRINT_SECONDS} s; the previous PDF "
                           "is kept") from None
        finally:
            kill_group(process.pid)  # its renderer and GPU helpers too
        if not out.is_file() or out.read_bytes()[:5] != b"%PDF-":
            last = "\n    ".join(line for line in errors.strip().splitlines()[-5:])
            raise PdfError(f"{name}: {browser} exited with status {process.returncode} without printing the page; "
                           f"the previous PDF is kept. What it said:\n    {last or '(nothing)'}")
        write_atomic(target, out.read_bytes())
    return target
