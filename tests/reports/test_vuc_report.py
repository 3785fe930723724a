#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unit tests of reports/vuc-report on the JSON fixtures beside this file
and on inputs made here (empty runs, only failures, very long traces, 600
cases, odd characters, malformed and truncated files).

Environment (ctest sets them; each has a default for running by hand):
  VUC_REPORT  the generator (default: ../../reports/vuc-report)
  VUC, REF_VHOST  vu-conform and vuc-ref-vhost: when both are set, one test
              runs a real suite against a seeded bug and reports on it.
"""

import html.parser
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
REPORT = os.environ.get("VUC_REPORT") or os.path.join(
    HERE, "..", "..", "reports", "vuc-report")


def load_generator():
    sys.dont_write_bytecode = True  # nothing left in reports/
    loader = importlib.machinery.SourceFileLoader("vuc_report", REPORT)
    spec = importlib.util.spec_from_loader("vuc_report", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


vr = load_generator()

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
# SVG elements may be self-closing; the generator never writes them so.


class TagChecker(html.parser.HTMLParser):
    """Checks that every element the page opens is closed in order, and
    collects what the tests look for."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags = [], [], {}
        self.scripts = 0
        self.texts = []
        self.external = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if "src" in a:
                self.external.append(("script", a["src"]))
        if tag in ("link", "img", "iframe", "object", "embed"):
            self.external.append((tag, a))
        href = a.get("href") or ""
        if href and not href.startswith("#"):
            self.external.append(("href", href))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack:
            self.errors.append("stray </%s> at %s" % (tag, self.getpos()))
            return
        top, pos = self.stack.pop()
        if top != tag:
            self.errors.append("</%s> at %s closes <%s> from %s" % (
                tag, self.getpos(), top, pos))

    def handle_data(self, data):
        self.texts.append(data)


def check_page(tc, page):
    """The page is whole: balanced tags, one script (ours), nothing loaded
    from elsewhere. Returns the checker for more assertions."""
    p = TagChecker()
    p.feed(page)
    p.close()
    tc.assertEqual(p.errors, [])
    tc.assertEqual([t for t, _ in p.stack], [])
    tc.assertEqual(p.scripts, 1, "exactly the report's own script")
    tc.assertEqual(p.external, [])
    tc.assertNotIn("@import", page)
    tc.assertNotIn("url(", page)
    tc.assertTrue(page.startswith("<!DOCTYPE html>"))
    page.encode("utf-8")  # no lone surrogates: it can be written
    return p


def fixture(name):
    return os.path.join(FIX, name)


def load(name):
    with open(fixture(name)) as f:
        return json.load(f)


def run_cli(args, **kw):
    return subprocess.run([sys.executable, REPORT] + args,
                          capture_output=True, text=True, timeout=120, **kw)


def make_case(i, verdict="PASS", trace=None, spec="vhost-user#header"):
    return {"id": "vhost-user/gen/case-%d" % i, "spec": spec,
            "level": "MUST", "verdict": verdict, "reason":
            None if verdict == "PASS" else "reason %d" % i,
            "duration_ms": 0.5, "trace": trace or [], "stderr_tail": None}


def make_run(cases, name="gen"):
    return {"tool": "vu-conform", "version": "0.1.0",
            "protocol": "vhost-user",
            "target": {"name": name, "argv": ["/x"], "mode": "spawn"},
            "summary": {}, "cases": cases}


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vuc-report-test.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertIn(self, member, container, msg=None):
        # Say what was missing without printing a whole page.
        if member not in container:
            self.fail(msg or "%r not in the %d characters starting %r" % (
                member, len(container), container[:160]))

    def write(self, name, content):
        path = os.path.join(self.tmp, name)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            if isinstance(content, (dict, list)):
                json.dump(content, f)
            else:
                f.write(content)
        return path

    def html_of(self, *paths, **kw):
        runs = [vr.load_run(p) for p in paths]
        vr.label_runs(runs)
        return runs, vr.render_html(runs, **kw)


class TestHtml(TempDirCase):
    def test_mixed_run_summary_sections_and_table(self):
        runs, page = self.html_of(fixture("mixed.json"))
        p = check_page(self, page)
        text = "".join(p.texts)
        self.assertIn("vuc-ref-vhost (net)", text)
        self.assertIn("vhost-user", text)
        # Counts from the cases: 3 PASS, 2 FAIL, 1 each of the rest.
        self.assertEqual(runs[0]["counts"], {"PASS": 3, "FAIL": 2,
                                             "SKIP": 1, "XFAIL": 1,
                                             "XPASS": 1, "ERROR": 1})
        self.assertIn('<span class="v v-FAIL">FAIL</span> 2</span>', page)
        # A row per case carrying verdict and id for the filter.
        rows = re.findall(r'<tr data-verdict="(\w+)" data-id="([^"]*)"',
                          page)
        self.assertEqual(len(rows), 9)
        self.assertIn(("SKIP", "vhost-user/inflight/numq"), rows)
        # The lenient SHOULD failure does not fail the run; the ERROR and
        # the XPASS (baseline difference) do.
        self.assertTrue(runs[0]["failed"])
        self.assertIn("(lenient)", page)
        # A filter checkbox per verdict and the search box.
        self.assertEqual(len(re.findall(r'class="vf" value="(\w+)"', page)),
                         6)
        self.assertIn('id="q"', page)
        # Time: the file's (no start time in the JSON).
        self.assertIn("results file written", page)

    def test_sections_bar_groups_before_slash(self):
        runs, page = self.html_of(fixture("mixed.json"))
        secs = [name for name, _ in vr.sections(runs[0])]
        self.assertEqual(secs, ["vhost-user#header",
                                "vhost-user#memory-access",
                                "vhost-user#inflight-i-o-tracking",
                                "vhost-user#ring-states",
                                "vhost-user#migration",
                                "vfio-user#vfio-user-dma-map"])
        svg = page[page.index("<svg"):page.index("</svg>")]
        # One label per section, one rect per non-zero verdict count.
        self.assertEqual(svg.count("<g>"), 6)
        self.assertEqual(svg.count("<rect"), 7)
        self.assertIn("vfio-user#vfio-user-dma-map: 1 pass", svg)
        self.assertIn('fill="#c62828"', svg)  # FAIL red drawn

    def test_failure_card_has_rule_expected_actual_trace_fds_stderr(self):
        runs, page = self.html_of(fixture("mixed.json"))
        card = page[page.index('id="r0-c2"'):]
        card = card[:card.index("</article>")]
        self.assertIn("The front-end sends a series of memory regions",
                      card)
        self.assertIn('<pre class="expected">error reply or hang-up', card)
        self.assertIn('<pre class="actual">killed by SIGBUS', card)
        # Both directions and the note, decoded.
        self.assertIn('<tr class="send">', card)
        self.assertIn('<tr class="recv">', card)
        self.assertIn('<tr class="note">', card)
        self.assertIn("VHOST_USER_SET_MEM_TABLE flags=0x1", card)
        # fds that travelled, one badge each, split at top-level commas.
        self.assertIn("2 fds:", card)
        self.assertIn('<span class="fd" title="memfd(4096, sealed)">', card)
        self.assertIn('<span class="fd" title="pipe-read(O_NONBLOCK)">',
                      card)
        self.assertIn("3 fds passed", card)
        # Raw bytes grouped, hidden until asked for.
        self.assertIn('<td class="hex">01000000 01000000 00000000</td>',
                      card)
        self.assertIn("AddressSanitizer: BUS", card)
        self.assertIn("--filter vhost-user/mem/region-past-eof", card)
        self.assertIn("killed by SIGBUS", card)  # watchdog, signal 7
        self.assertIn("vu-conform-repro/vhost-user__mem__region-past-eof",
                      card)
        # Traces are folded by default.
        self.assertIn('<details class="trace"><summary>', card)
        # The table links the case to its card.
        self.assertIn('<a href="#r0-c2"><code>vhost-user/mem/region-past'
                      '-eof</code></a>', page)

    def test_cards_only_for_findings(self):
        runs, page = self.html_of(fixture("mixed.json"))
        verdicts = re.findall(r'<article class="card[^"]*" id="[^"]+" '
                              r'data-verdict="(\w+)"', page)
        self.assertEqual(sorted(verdicts),
                         ["ERROR", "FAIL", "FAIL", "XFAIL", "XPASS"])
        self.assertIn("known: upstream issue 42", page)

    def test_empty_run(self):
        runs, page = self.html_of(fixture("empty.json"))
        p = check_page(self, page)
        self.assertIn("No cases ran.", page)
        self.assertIn("No cases in this run.", page)
        self.assertIn("None: no case failed", page)
        self.assertFalse(runs[0]["failed"])
        self.assertIn("<strong>0 cases:</strong>", page)
        self.assertNotIn("<svg", page)
        self.assertIn("empty-target", "".join(p.texts))

    def test_only_failures(self):
        runs, page = self.html_of(fixture("only-failures.json"))
        check_page(self, page)
        self.assertEqual(page.count('<article class="card'), 3)
        self.assertIn('id="overall">FAILED</span>', page)
        self.assertTrue(runs[0]["failed"])
        self.assertIn("killed by SIGSEGV", page)
        self.assertIn("No wire trace recorded.", page)  # the ERROR case

    def test_odd_characters_are_escaped(self):
        runs, page = self.html_of(fixture("only-failures.json"))
        p = check_page(self, page)  # one script: the injected one is text
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert(&#x27;stderr&#x27;)&lt;/script"
                      "&gt;&lt;/pre&gt;&lt;/details&gt;", page)
        self.assertIn("amp &amp; lt &lt; gt &gt; quote &quot;", page)
        # Controls shown as control pictures, colour codes dropped, bidi
        # overrides and the lone surrogate replaced.
        self.assertIn("NUL here:\u2400 bell:\u2407 esc:red\n", page)
        self.assertNotIn("\x00", page)
        self.assertNotIn("\x1b", page)
        self.assertNotIn("\u202e", page)
        self.assertIn("rtl:\ufffdevil\ufffd emoji:\U0001F600", page)
        self.assertIn("surrogate:\ufffd end", page)
        # In the trace and the quote too.
        self.assertIn("&lt;&lt;odd text &amp; &quot;quotes&quot;&gt;&gt; "
                      "\u2400", page)
        self.assertIn("index out of range &lt;must&gt; be rejected &amp; "
                      "closed", page)
        self.assertGreater(p.tags["article"], 0)

    def test_long_trace_is_clipped_head_and_tail(self):
        trace = [{"dir": ("send", "recv", "note")[i % 3], "t_ms": i * 0.01,
                  "text": "MSG-%05d" % i, "hex": "00" * 12, "fds": None}
                 for i in range(10000)]
        path = self.write("long.json",
                          make_run([make_case(0, "FAIL", trace)]))
        runs, page = self.html_of(path, max_lines=100)
        check_page(self, page)
        self.assertIn("Wire trace: 10000 lines", page)
        self.assertIn("MSG-00000", page)
        self.assertIn("MSG-00049", page)
        self.assertNotIn("MSG-00050<", page)
        self.assertIn("MSG-09950", page)
        self.assertIn("MSG-09999", page)
        self.assertIn("9900 lines not shown (--max-trace 100", page)
        # 0: everything.
        runs, page = self.html_of(path, max_lines=0)
        self.assertEqual(len(re.findall(r">MSG-\d{5}<", page)), 10000)
        self.assertNotIn("not shown", page)

    def test_long_trace_default_and_size(self):
        trace = [{"dir": "send", "t_ms": i, "text": "M%d" % i,
                  "hex": "ab" * 40, "fds": "eventfd(nonblock)"}
                 for i in range(5000)]
        path = self.write("long.json",
                          make_run([make_case(0, "FAIL", trace)]))
        runs, page = self.html_of(path)
        rows = len(re.findall(r'<tr class="send">', page))
        self.assertEqual(rows, vr.DEFAULT_MAX_TRACE)
        self.assertIn("3000 lines not shown", page)

    def test_many_cases_stay_quick(self):
        verdicts = ("PASS",) * 7 + ("FAIL", "SKIP", "ERROR")
        cases = [make_case(i, verdicts[i % 10], spec="vhost-user#s%d/R-%d"
                           % (i % 12, i)) for i in range(600)]
        for c in cases:
            if c["verdict"] == "FAIL":
                c["trace"] = [{"dir": "send", "t_ms": 1, "text": "x" * 50,
                               "hex": "00", "fds": None}] * 300
        path = self.write("many.json", make_run(cases))
        t0 = time.monotonic()
        runs, page = self.html_of(path)
        self.assertLess(time.monotonic() - t0, 10)
        check_page(self, page)
        self.assertEqual(len(vr.sections(runs[0])), 12)
        self.assertEqual(page.count("<tr data-verdict="), 600)
        self.assertEqual(page.count('<article class="card'), 120)
        self.assertEqual(page.count('<details class="trace"><summary>'),
                         60)
        self.assertNotIn('<details class="trace" open', page)

    def test_differential_matrix(self):
        runs, page = self.html_of(fixture("mixed.json"),
                                  fixture("mixed-b.json"))
        check_page(self, page)
        mats = vr.matrices(runs)
        self.assertEqual(len(mats), 1)
        proto, rs, rows = mats[0]
        self.assertEqual(proto, "vhost-user")
        ids = [cid for cid, _ in rows]
        self.assertEqual(len(ids), 10)  # 9 + the extra case in b
        self.assertEqual(ids[-1], "vhost-user/header/extra")
        diff = {cid for cid, cells in rows if vr.row_differs(cells)}
        self.assertEqual(diff, {"vhost-user/header/reply-flag",
                                "vhost-user/mem/region-past-eof",
                                "vhost-user/inflight/numq",
                                "vhost-user/header/extra"})
        self.assertIn("4 differ", page)
        self.assertIn('title="not in this run">\u2014</span>', page)
        self.assertIn('id="diffonly"', page)
        self.assertIn("<th>Run</th>", page)  # cases table names the run
        # The unnamed target is labelled by its launch line.
        self.assertEqual(runs[1]["label"],
                         "other-daemon --socket-path={socket}")
        self.assertIn('class="overview"', page)

    def test_no_matrix_across_protocols(self):
        vfio = load("mixed.json")
        vfio["protocol"] = "vfio-user"
        path = self.write("vfio.json", vfio)
        runs, page = self.html_of(fixture("mixed.json"), path)
        self.assertEqual(vr.matrices(runs), [])
        self.assertNotIn('class="matrix"', page)
        self.assertNotIn('id="diffonly"', page)

    def test_same_target_twice_gets_distinct_labels(self):
        a = self.write("a.json", load("mixed.json"))
        os.mkdir(os.path.join(self.tmp, "d"))
        b = self.write("d/a.json", load("mixed.json"))
        runs = [vr.load_run(p) for p in (a, fixture("mixed.json"), b)]
        vr.label_runs(runs)
        labels = [r["label"] for r in runs]
        self.assertEqual(len(set(labels)), 3, labels)

    def test_summary_disagreeing_with_cases_is_said(self):
        d = load("mixed.json")
        d["summary"]["pass"] = 99
        runs, page = self.html_of(self.write("s.json", d))
        self.assertIn("The file's own summary says 99 pass", page)
        self.assertEqual(runs[0]["counts"]["PASS"], 3)


class TestMarkdownAndSummary(TempDirCase):
    def test_markdown(self):
        runs = [vr.load_run(fixture(n)) for n in
                ("mixed.json", "mixed-b.json")]
        vr.label_runs(runs)
        md = vr.render_markdown(runs)
        self.assertTrue(md.startswith("## vu-conform results: FAILED\n"))
        self.assertIn("| vuc-ref-vhost (net) | vhost-user | 9 | 3 | 2 | 1 "
                      "| 1 | 1 | 1 | FAILED |", md)
        self.assertIn("| `vfio-user#vfio-user-dma-map` | 1 | 0 | 0 | 0 |",
                      md)
        self.assertIn("### vhost-user side by side: 4 of 10 cases differ",
                      md)
        self.assertIn("| `vhost-user/inflight/numq` | SKIP | \u2014 |", md)
        self.assertIn("> The front-end sends a series of memory regions",
                      md)
        self.assertIn("[fds: memfd(4096, sealed)]", md)
        self.assertEqual(md.count("<details>"), md.count("</details>"))

    def test_markdown_odd_text(self):
        runs = [vr.load_run(fixture("only-failures.json"))]
        vr.label_runs(runs)
        md = vr.render_markdown(runs)
        # The fence is longer than any backtick run in the stderr.
        self.assertIn("\n`````\nline one\n", md)
        self.assertNotIn("\x00", md)
        self.assertIn("index out of range \\<must\\> be rejected &amp; "
                      "closed", md)
        self.assertEqual(md.count("<details>"), 3)

    def test_markdown_caps_findings(self):
        cases = [make_case(i, "FAIL") for i in range(vr.MD_MAX_FINDINGS + 5)]
        runs = [vr.load_run(self.write("m.json", make_run(cases)))]
        vr.label_runs(runs)
        md = vr.render_markdown(runs)
        self.assertEqual(md.count("<details>"), vr.MD_MAX_FINDINGS)
        self.assertIn("... and 5 more", md)

    def test_markdown_empty(self):
        runs = [vr.load_run(fixture("empty.json"))]
        vr.label_runs(runs)
        md = vr.render_markdown(runs)
        self.assertIn("| empty-target | vhost-user | 0 | 0 | 0 |", md)
        self.assertNotIn("Failures", md)

    def test_summary_lines(self):
        r = run_cli([fixture("mixed.json"), fixture("empty.json"),
                     "--format", "summary"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "vu-conform vuc-ref-vhost (net) [vhost-user]: 9 cases: 3 pass, "
            "2 fail, 1 skip, 1 xfail, 1 xpass, 1 error: FAILED",
            "vu-conform empty-target [vhost-user]: 0 cases: 0 pass, 0 fail, "
            "0 skip, 0 xfail, 0 xpass, 0 error: PASSED"])

    def test_lenient_should_does_not_fail(self):
        d = load("mixed.json")
        d["cases"] = [c for c in d["cases"] if c["verdict"] in
                      ("PASS", "SKIP", "XFAIL") or c["lenient"]]
        path = self.write("l.json", d)
        r = run_cli([path, "--format", "summary", "--check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(": PASSED", r.stdout)


class TestCli(TempDirCase):
    def test_html_to_file_says_where(self):
        out = os.path.join(self.tmp, "report.html")
        r = run_cli([fixture("mixed.json"), fixture("only-failures.json"),
                     "-o", out])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].startswith("vu-conform vuc-ref-vhost"))
        self.assertEqual(lines[2], "vuc-report: html report: " + out)
        with open(out, encoding="utf-8") as f:
            check_page(self, f.read())
        self.assertEqual(os.listdir(self.tmp), ["report.html"])

    def test_check_exit_status(self):
        r = run_cli([fixture("mixed.json"), "-f", "summary", "--check"])
        self.assertEqual(r.returncode, 1)
        r = run_cli([fixture("empty.json"), "-f", "summary", "--check"])
        self.assertEqual(r.returncode, 0)
        # Without --check a failed run is still a report written.
        r = run_cli([fixture("mixed.json"), "-f", "summary"])
        self.assertEqual(r.returncode, 0)

    def test_markdown_to_stdout_and_quiet(self):
        out = os.path.join(self.tmp, "r.md")
        r = run_cli([fixture("mixed.json"), "-f", "markdown", "-o", out,
                     "-q"])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        r = run_cli([fixture("mixed.json"), "-f", "markdown"])
        with open(out) as f:
            self.assertEqual(r.stdout, f.read())

    def test_unwritable_output(self):
        out = os.path.join(self.tmp, "no-such-dir", "r.html")
        r = run_cli([fixture("mixed.json"), "-o", out])
        self.assertEqual(r.returncode, 2)
        self.assertIn("vuc-report: cannot write %s: No such file" % out,
                      r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_usage_errors(self):
        r = run_cli([])
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)
        r = run_cli([fixture("mixed.json"), "--format", "pdf"])
        self.assertEqual(r.returncode, 2)
        r = run_cli([fixture("mixed.json"), "--max-trace", "-1"])
        self.assertEqual(r.returncode, 2)


class TestBadInput(TempDirCase):
    def bad(self, content, *want):
        """@content as a results file: exit 2, one clear line naming the
        file, each of @want in it, no traceback, no output file."""
        path = self.write("in.json", content)
        out = os.path.join(self.tmp, "out.html")
        r = run_cli([path, "-o", out])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertNotIn("Traceback", r.stderr)
        self.assertTrue(r.stderr.startswith("vuc-report: %s: " % path),
                        r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        for w in want:
            self.assertIn(w, r.stderr)
        self.assertFalse(os.path.exists(out))
        return r.stderr

    def test_empty_file(self):
        self.bad("", "empty")
        self.bad("  \n", "empty")

    def test_truncated(self):
        with open(fixture("mixed.json")) as f:
            text = f.read()
        for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
            self.bad(text[:cut], "ends early", "truncated")

    def test_truncated_inside_string(self):
        self.bad('{"tool": "vu-con', "truncated")

    def test_syntax_error(self):
        self.bad('{"tool": "vu-conform",, "cases": []}',
                 "not valid JSON at line 1 column 23")
        self.bad("not json at all", "not valid JSON")

    def test_not_results(self):
        self.bad("[1, 2]", "the top level is an array, not an object")
        self.bad('{"tool": "other", "cases": []}',
                 "not a vu-conform results file")
        self.bad('{"a": 1}', "not a vu-conform results file")

    def test_wrong_shapes(self):
        base = {"tool": "vu-conform", "protocol": "vhost-user"}
        self.bad(dict(base, cases={}), "cases is an object, not an array")
        self.bad(dict(base, cases=[1]), "cases[0] is a number")
        self.bad(dict(base, cases=[{"verdict": "PASS"}]),
                 'cases[0] has no "id"')
        self.bad(dict(base, cases=[{"id": "a/b"}]),
                 'cases[0] (a/b) has no "verdict"')
        self.bad(dict(base, cases=[{"id": "a/b", "verdict": "MAYBE"}]),
                 'verdict "MAYBE" is not one of PASS')
        self.bad(dict(base, cases=[{"id": "a/b", "verdict": "FAIL",
                                    "trace": "x"}]),
                 "cases[0] (a/b).trace is a string, not an array")
        self.bad(dict(base, cases=[{"id": "a/b", "verdict": "FAIL",
                                    "trace": [{"dir": "send",
                                               "t_ms": "soon"}]}]),
                 "trace[0].t_ms is a string, not a number")
        self.bad(dict(base, cases=[{"id": "a/b", "verdict": "FAIL",
                                    "duration_ms": True}]),
                 "duration_ms is a boolean, not a number")
        self.bad(dict(base, target={"argv": [1]}, cases=[]),
                 "target.argv[0] is a number")
        self.bad(dict(base, target=[], cases=[]), "target is an array")

    def test_nan_and_deep_nesting(self):
        self.bad('{"tool": "vu-conform", "cases": [], "duration_ms": NaN}',
                 "NaN is not a JSON number")
        self.bad("[" * 100000 + "]" * 100000, "nested too deeply")

    def test_missing_and_unreadable(self):
        path = os.path.join(self.tmp, "absent.json")
        r = run_cli([path])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "vuc-report: %s: No such file or "
                         "directory\n" % path)
        r = run_cli([self.tmp])
        self.assertEqual(r.returncode, 2)
        self.assertIn("Is a directory", r.stderr)

    def test_one_bad_file_among_good_ones(self):
        path = self.write("in.json", '{"tool":')
        r = run_cli([fixture("mixed.json"), path, "-f", "summary"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertIn(path, r.stderr)

    def test_invalid_utf8_is_shown_not_refused(self):
        d = json.dumps(make_run([make_case(0, "FAIL")])).replace(
            "reason 0", "bad \udcff here").encode("utf-8", "surrogateescape")
        path = self.write("u.json", d)
        runs = [vr.load_run(path)]
        vr.label_runs(runs)
        check_page(self, vr.render_html(runs))


@unittest.skipUnless(os.environ.get("VUC") and os.environ.get("REF_VHOST"),
                     "VUC and REF_VHOST not set (ctest sets them)")
class TestRealRun(TempDirCase):
    """The generator against what vu-conform really writes: a seeded bug
    in the reference back-end makes failures with traces and stderr."""

    def vu_conform(self, bug, filt):
        out = os.path.join(self.tmp, bug + ".json")
        target = "%s --device net --bug %s" % (os.environ["REF_VHOST"], bug)
        r = subprocess.run([os.environ["VUC"], "--target", target, "-j", "2",
                            "--filter", filt, "--json", out, "--trace-dir",
                            os.path.join(self.tmp, "repro")],
                           cwd=self.tmp, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        return out

    def test_seeded_bugs(self):
        a = self.vu_conform("reply-flag-missing", "vhost-user/header")
        b = self.vu_conform("mem-table-fd-mismatch", "vhost-user/mem")
        runs = [vr.load_run(a), vr.load_run(b)]
        vr.label_runs(runs)
        for r in runs:
            self.assertTrue(r["failed"])
            self.assertGreater(r["counts"]["FAIL"], 0)
        page = vr.render_html(runs)
        check_page(self, page)
        self.assertIn("the reply flag (bit 2) is not set", page)
        self.assertIn('<tr class="recv">', page)
        self.assertIn("VHOST_USER_GET_FEATURES", page)
        self.assertIn("--bug reply-flag-missing", page)
        # SET_MEM_TABLE went out with memfds: the fds and their kinds.
        self.assertRegex(page, r'<span class="fd" title="memfd[^"]*">')
        self.assertIn("VHOST_USER_SET_MEM_TABLE", page)
        self.assertIn('class="matrix"', page)
        md = vr.render_markdown(runs[1:])  # the first has > 30 findings
        self.assertIn("FAILED", md)
        self.assertIn("[fds: memfd", md)


if __name__ == "__main__":
    unittest.main(verbosity=1)
