"""`syscall-lab serve` in a real browser: Debian's chromium, headless, driven by Playwright.

The page's terminal is xterm.js drawing on a canvas, so its text is not in the DOM. The test
reads xterm.js's own screen buffer instead (what the canvas shows, row by row): a script run
before the page's catches each xterm Terminal as it is made (textual.js keeps it in a
closure). Screenshots go to tests/artifacts/serve/ and stay there after the test.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="textual-serve is not installed")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")

from serve_harness import serving  # noqa: E402

from programs import lesson as lessons  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "serve"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT_MS = 90_000  # for a session to start or a key's effect to show, on a slow machine

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install "
                                "chromium): the browser test needs the system's")

# xterm.js's Terminal sets `this._core` in its constructor: a setter on Object.prototype
# sees that assignment, keeps the object, and puts a plain property in place.
CATCH_TERMINALS = """
(() => {
  window.__terminals = [];
  Object.defineProperty(Object.prototype, '_core', {
    configurable: true,
    set(value) {
      Object.defineProperty(this, '_core', {value, writable: true, configurable: true,
                                            enumerable: true});
      if (typeof this.loadAddon === 'function') window.__terminals.push(this);
    },
  });
})();
"""
SCREEN_TEXT = """() => {
  const t = (window.__terminals || [])[0];
  if (!t) return '';
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""
SHOWS = "needle => (" + SCREEN_TEXT + ")().includes(needle)"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def base():
    with serving() as url:
        yield url


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(CATCH_TERMINALS)
    page.goto(url)
    return page


def screen(page) -> str:
    return page.evaluate(SCREEN_TEXT)


def wait_for_text(page, needle: str) -> str:
    """The screen once `needle` is on it; on a timeout, the assertion shows the screen."""
    try:
        page.wait_for_function(SHOWS, arg=needle, timeout=WAIT_MS)
    except sync_api.TimeoutError:
        pass
    text = screen(page)
    assert needle in text, f"{needle!r} never showed; the screen:\n{text}"
    return text


def wait_until_gone(page, needle: str) -> None:
    try:
        page.wait_for_function("needle => !(" + SCREEN_TEXT + ")().includes(needle)",
                               arg=needle, timeout=WAIT_MS)
    except sync_api.TimeoutError:
        pass
    text = screen(page)
    assert needle not in text, f"{needle!r} stayed; the screen:\n{text}"


def keep(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def press(page, key: str) -> None:
    page.locator(".xterm-helper-textarea").focus()  # where xterm.js takes the keyboard
    page.keyboard.press(key)


def test_the_demo_steps_into_a_transition(browser, base):
    page = open_page(browser, base + "/?demo")
    try:
        wait_for_text(page, "t to transition")  # the footer: the app is up
        keep(page, "demo-start")
        press(page, "t")
        text = wait_for_text(page, "Next: syscall")
        assert "clock_gettime" in text  # the first transition the demo makes
        keep(page, "demo-t")
        press(page, "s")
        text = wait_for_text(page, "syscall: phase 1/")
        assert "clock_gettime(CLOCK_REALTIME" in text  # the Transition pane's call
        keep(page, "demo-t-s")
    finally:
        page.close()


def test_a_lesson_opens_from_its_address(browser, base):
    lesson = lessons.find("entry-paths")
    first = lesson.stops[0]
    page = open_page(browser, base + "/?lesson=entry-paths")
    try:
        text = wait_for_text(page, f"Stop 1/{len(lesson.stops)}")
        if first.title:
            assert first.title in text
        # the narration's first words, as the pane wraps it
        assert " ".join(first.narration.split()[:6]) in " ".join(text.split())
        keep(page, "lesson-entry-paths")
    finally:
        page.close()


def test_the_landing_screen_opens_a_choice(browser, base):
    page = open_page(browser, base + "/?lesson=no-such-lesson")
    try:
        wait_for_text(page, "there is no lesson named 'no-such-lesson'")
        keep(page, "landing-notice")
        press(page, "Enter")  # the first item: the demo
        wait_for_text(page, "t to transition")
        assert page.url.endswith("/?demo")
        keep(page, "landing-opened-demo")
    finally:
        page.close()


# -- an exercise, edited and graded in the browser, kept across a reload ---------------------------
SOLUTION = (Path(__file__).resolve().parent / "exercises" / "echo-argv" / "reference.s")
MARK = "; typed in the browser"


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("students")
    with serving("--workdir", str(workdir)) as url:
        yield url, workdir


def typed(text: str) -> str:
    """The solution as a student would type it: the editor does not indent by itself, so
    each line's own spaces are typed as they are; comments are left out (fewer keys)."""
    lines = [line.split(";")[0].rstrip() for line in text.splitlines()]
    return "\n".join([MARK, *(line for line in lines if line.strip())]) + "\n"


def test_an_exercise_edited_graded_and_kept_across_a_reload(browser, kept):
    base, workdir = kept
    solution = typed(SOLUTION.read_text())
    page = open_page(browser, base + "/?exercise=echo-argv")
    try:
        wait_for_text(page, "Editor")
        keep(page, "exercise-start")
        press(page, "i")  # the keys go to the editor (its tab comes forward at 80x24)
        wait_for_text(page, "Esc: back")  # the editor's own hint: it has the keys
        # The editor's select-all, then Backspace. Both are the editor's key bindings, run
        # in order once their keys have gone up the widget tree; a typed character is
        # taken by the editor at once and could overtake F7, hence the wait for an empty
        # editor before typing.
        press(page, "F7")
        press(page, "Backspace")
        wait_until_gone(page, "your code here")
        page.keyboard.type(solution)
        wait_for_text(page, "unsaved")
        keep(page, "exercise-typed")
        press(page, "F5")
        text = wait_for_text(page, "PASSED")
        assert "FAILED" not in text
        keep(page, "exercise-passed")
        # one more edit, not saved: the tab's app saves it as the reload ends it
        assert "Esc: back" in text  # grading left the keys with the editor
        press(page, "Control+End")
        page.keyboard.type("; after grading\n")
        wait_for_text(page, "unsaved")
    except BaseException:
        keep(page, "exercise-failed")
        page.close()
        raise
    try:
        page.reload()
        # the editor's pane (the code pane shows no comments), the file as it was left
        text = wait_for_text(page, "Editor  echo-argv.s  saved")
        assert MARK in text and "mov rsi, [rsp + 16]" in text
        assert re.search(r"^.*\b\d+ +; after grading *│", text, re.M), text
        keep(page, "exercise-after-reload")
        cookies = {c["name"]: c for c in page.context.cookies()}
        with page.expect_download(timeout=WAIT_MS) as download:
            press(page, "F8")  # the solution, downloaded by the browser
        assert download.value.suggested_filename == "echo-argv.s"
        downloaded = Path(download.value.path()).read_text()
    finally:
        page.close()
    # on the server: one student's directory, the file as typed
    (home,) = workdir.iterdir()
    assert home.name.startswith("student-")
    on_disk = (home / "echo-argv.s").read_text()
    assert on_disk == solution + "; after grading\n"
    assert downloaded == on_disk
    cookie = cookies["syscall-lab-student"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] not in home.name  # the directory is not named by the secret
