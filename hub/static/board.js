// The live board (hub/pages/board.py) brings its tiles up to date every 2 seconds without
// reloading the page: the boxes a person ticked stay ticked, and nothing jumps. The hub renders
// the tiles (GET /board/tiles, the page's own partial); this only swaps them in. Without
// JavaScript the page reloads itself every 5 seconds instead (its <noscript> refresh).
"use strict";

(function () {
    var PERIOD_MS = 2000;
    var tiles = document.getElementById("board-tiles");
    if (!tiles || !tiles.dataset.source) {
        return; // the chooser, or updates paused
    }
    var source = tiles.dataset.source;

    function tickedStations() {
        var ticked = new Set();
        tiles.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
            ticked.add(box.value);
        });
        return ticked;
    }

    function swapIn(html) {
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        var ticked = tickedStations(); // read last: a box ticked during the request counts
        fresh.content.querySelectorAll("input[type=checkbox]").forEach(function (box) {
            box.checked = ticked.has(box.value);
        });
        tiles.replaceChildren(fresh.content);
        tiles.classList.remove("stale");
    }

    function update() {
        fetch(source, { credentials: "same-origin", cache: "no-store" })
            .then(function (answer) {
                if (answer.redirected) {
                    // The session ended: the page itself leads to the sign-in form.
                    window.location.reload();
                    return null;
                }
                return answer.ok ? answer.text() : null;
            })
            .then(function (html) {
                if (html === null) {
                    tiles.classList.add("stale");
                } else {
                    swapIn(html);
                }
            })
            .catch(function () {
                tiles.classList.add("stale"); // the hub is unreachable for now: try again
            })
            .finally(function () {
                window.setTimeout(update, PERIOD_MS);
            });
    }

    window.setTimeout(update, PERIOD_MS);
}());
