"""A workshop coordinator's browser on the live board, for the network boot test: Debian's
chromium driven by Playwright, run inside the LAN's namespaces (`ip netns exec`), where the hub
is. It signs in, opens the board once and watches it without reloading it:

    python board_browser.py HUB_URL EMAIL PASSWORD_FILE OUT_DIR

- every half second it reads each tile's machine and state (the tile's `state-...` class) and
  appends each change to OUT_DIR/board.jsonl: {"seconds", "station", "state", "loads"}, where
  `loads` counts the page loads so far (1 until the browser itself loads the page again; the
  board's own script only swaps tiles in);
- a file OUT_DIR/arm naming a station makes it tick that machine's box and press "Arm
  unattended erasure", as a person would; it then writes OUT_DIR/armed with the message the
  board gave (the form's answer is a page load of its own: counted apart, in `actions`);
- OUT_DIR/stop ends it, after a screenshot (OUT_DIR/board.png).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
LONGEST_SECONDS = 3600.0
READ_TILES = """() => Array.from(document.querySelectorAll("article.tile")).map(tile => [
    tile.querySelector("input[name=stations]").value,
    Array.from(tile.classList).find(name => name.startsWith("state-")).slice(6)])"""


def main(hub_url: str, email: str, password_file: str, out: Path) -> None:
    started = time.monotonic()
    record = (out / "board.jsonl").open("a", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox"] if os.geteuid() == 0 else [])
        page = browser.new_page(locale="en-GB", viewport={"width": 1920, "height": 1080})
        page.goto(f"{hub_url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", Path(password_file).read_text().strip())
        page.click("button[type=submit]")
        page.wait_for_load_state()
        loads = actions = 0

        def on_load() -> None:
            nonlocal loads
            loads += 1

        page.on("load", lambda _page: on_load())
        page.goto(f"{hub_url}/board")
        seen: dict[str, str] = {}
        while not (out / "stop").exists() and time.monotonic() - started < LONGEST_SECONDS:
            try:
                tiles = page.evaluate(READ_TILES)
            except Exception:  # between two swaps or loads: read again
                time.sleep(0.2)
                continue
            for station, state in tiles:
                if seen.get(station) != state:
                    seen[station] = state
                    record.write(json.dumps({
                        "seconds": round(time.monotonic() - started, 1), "station": station,
                        "state": state, "loads": loads - actions}) + "\n")
                    record.flush()
            request = out / "arm"
            if request.exists():
                station = request.read_text().strip()
                page.check(f"input[name=stations][value='{station}']")
                with page.expect_navigation():
                    page.click("button[name=action][value=arm]")
                actions += 1
                message = page.locator("p.ok, p.bad").all_inner_texts()
                request.unlink()
                (out / "armed").write_text("\n".join(message))
            time.sleep(0.5)
        page.screenshot(path=str(out / "board.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
