#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""browser_check.py - open reports made by reports/vuc-report in headless
Chromium and check what a reader would see: the summary, a failing case's
wire trace, and that the verdict filter and id search (JavaScript) work,
driven by the URL (?verdict=FAIL&q=...&open=1, #diff=1). Also takes a
screenshot and checks it is not blank (FAIL red and PASS green are drawn).

Exit status: 0 pass, 1 fail, 77 when Chromium is not installed (ctest
SKIP_RETURN_CODE). Leaves nothing behind: one temporary directory, removed,
and every Chromium process of ours ended.

Environment: VUC_REPORT (the generator; default ../../reports/vuc-report),
CHROMIUM (the browser; default chromium, then chromium-browser).
"""

import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
REPORT = os.environ.get("VUC_REPORT") or os.path.join(
    HERE, "..", "..", "reports", "vuc-report")
SKIP = 77
failures = []


def check(cond, what):
    print("%s - %s" % ("ok" if cond else "not ok", what))
    if not cond:
        failures.append(what)


def find_chromium():
    for name in filter(None, (os.environ.get("CHROMIUM"), "chromium",
                              "chromium-browser")):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(browser, tmp, url, *extra, timeout=40):
    """Run headless Chromium on @url in its own session with a fresh
    profile and HOME under @tmp; return its stdout. Every process it
    started is ended afterwards."""
    profile = tempfile.mkdtemp(prefix="profile.", dir=tmp)
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp,
               XDG_CACHE_HOME=tmp)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-crash-reporter",
           "--user-data-dir=" + profile, "--hide-scrollbars"] + \
        list(extra) + [url]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise RuntimeError("chromium did not finish in %d s" % timeout)
    finally:
        try:  # helpers (zygote, renderer) that outlived the browser
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if p.returncode != 0:
        raise RuntimeError("chromium exited %d: %s" % (
            p.returncode, err.decode(errors="replace")[-2000:]))
    return out.decode("utf-8", errors="replace")


def report(tmp, name, *inputs):
    out = os.path.join(tmp, name)
    subprocess.run([sys.executable, REPORT, "-q", "-o", out] +
                   [os.path.join(FIX, i) for i in inputs], check=True,
                   timeout=60)
    return out


def url(path, query=""):
    return "file://" + path + query


def rows(dom, table_id):
    """The <tr> start tags of a table's body, by the table's id."""
    i = dom.index('<table id="%s">' % table_id)
    body = dom[i:dom.index("</table>", i)]
    return re.findall(r"<tr [^>]*>", body)


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of a non-interlaced 8-bit
    RGB or RGBA PNG, as Chromium writes them."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, lace = struct.unpack(">IIBBBBB",
                                                            chunk)
            if depth != 8 or colour not in (2, 6) or lace:
                raise ValueError("unexpected PNG format %d/%d/%d" % (
                    depth, colour, lace))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    out, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 255
        out.append(bytes(line))
        prev = line
    return w, h, bpp, out


def has_colour(pixels, rgb, tol=24, need=200):
    w, h, bpp, lines = pixels
    n = 0
    for line in lines:
        for x in range(0, w * bpp, bpp):
            if abs(line[x] - rgb[0]) <= tol and \
                    abs(line[x + 1] - rgb[1]) <= tol and \
                    abs(line[x + 2] - rgb[2]) <= tol:
                n += 1
                if n >= need:
                    return True
    return False


def main():
    browser = find_chromium()
    if not browser:
        print("SKIP: chromium is not installed (Debian package chromium)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="vuc-report-browser.")
    try:
        one = report(tmp, "one.html", "mixed.json")
        two = report(tmp, "two.html", "mixed.json", "mixed-b.json")

        # 1. Pre-selected filter and search from the URL: only the one
        # failing case matches, its trace is unfolded and in the DOM.
        dom = chromium(browser, tmp,
                       url(one, "?verdict=FAIL&q=Past-EOF&open=1"),
                       "--dump-dom")
        r = rows(dom, "cases")
        shown = [t for t in r if "hidden" not in t]
        check("showing 1 of 9 cases" in dom, "the counter says 1 of 9")
        check(len(shown) == 1 and 'data-id="vhost-user/mem/region-past-eof"'
              in shown[0], "only the failing case searched for is shown")
        check(all("hidden" in t for t in r if 'data-verdict="PASS"' in t),
              "PASS rows hidden by the verdict filter")
        card = dom[dom.index('id="r0-c2"') - 80:]
        card = card[:card.index("</article>")]
        check("hidden" not in card[:200], "its failure card is shown")
        check('<details class="trace" open=""' in card,
              "its trace is unfolded")
        check("VHOST_USER_SET_MEM_TABLE flags=0x1" in card and
              "VHOST_USER_GET_FEATURES flags=0x5" in card,
              "the trace has both directions")
        check("memfd(4096, sealed)" in card, "the fds that travelled")
        check("AddressSanitizer: BUS" in card, "the target's stderr")
        other = dom[dom.index('id="r0-c3"') - 80:]
        check(re.search(r'<article [^>]*hidden', other[:300]) is not None,
              "a card that does not match is hidden")

        # 2. Two runs, the matrix narrowed to the cases that differ by a
        # parameter after '#'; otherwise as opened: the script ran,
        # every case shown, traces folded.
        dom = chromium(browser, tmp, url(two, "#diff=1"), "--dump-dom")
        check('data-ready="1"' in dom, "the page's script ran to the end")
        check("showing 18 of 18 cases" in dom, "no case filtered out")
        check("<strong>9 cases:</strong>" in dom and
              'class="overview"' in dom, "the summary is in the page")
        check("vhost-user#memory-access" in dom and "<svg" in dom,
              "the spec section bars are drawn")
        check(not any("hidden" in r for r in rows(dom, "cases")),
              "no case row hidden")
        check('<details class="trace">' in dom and
              '<details class="trace" open' not in dom,
              "traces folded by default")
        m = dom[dom.index('<table class="matrix">'):]
        m = m[:m.index("</table>")]
        trs = re.findall(r"<tr data-id[^>]*>", m)
        check(len(trs) == 10, "the matrix has a row per case (10)")
        check(all(("hidden" in t) == ('data-differs="0"' in t)
                  for t in trs) and sum("hidden" not in t for t in trs) == 4,
              "#diff=1 leaves the 4 rows that differ")

        # 3. A screenshot: not blank, FAIL red and PASS green drawn.
        png = os.path.join(tmp, "shot.png")
        chromium(browser, tmp, url(one, "?verdict=FAIL,PASS&open=1"),
                 "--window-size=1200,1600", "--screenshot=" + png,
                 # Paint everything before the shot, not a blank frame.
                 "--run-all-compositor-stages-before-draw",
                 "--virtual-time-budget=2000")
        check(os.path.getsize(png) > 20000, "the screenshot has content")
        px = png_pixels(png)
        check(px[0] == 1200 and px[1] == 1600, "screenshot is 1200x1600")
        check(has_colour(px, (0xc6, 0x28, 0x28)), "FAIL red is drawn")
        check(has_colour(px, (0x2e, 0x7d, 0x32)), "PASS green is drawn")
        if os.environ.get("VUC_KEEP_SHOT"):
            shutil.copy(png, os.environ["VUC_KEEP_SHOT"])
    except (RuntimeError, subprocess.SubprocessError, OSError,
            ValueError) as e:
        check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED: %d check%s" % (len(failures),
                                     "" if len(failures) == 1 else "s"))
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
