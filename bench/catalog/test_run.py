#!/usr/bin/env python3
"""Tests of run.py's pure parts: reading wrk's output and rewriting only
this benchmark's section of RESULTS.md. `python3 -m unittest
bench/catalog/test_run.py` (or run the file)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

WRK = """Running 20s test @ http://127.0.0.1:49871
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   208.86ms   41.06ms    1.35s   66.92%
    Req/Sec   478.71    156.39     0.90k    64.91%
  Latency Distribution
     50%  189.54ms
     75%  249.27ms
     90%  865.26us
     99%    2.50s
  19077 requests in 20.06s, 582.88MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 12
Requests/sec:    950.94
Transfer/sec:     29.05MB
"""


class ParseWrk(unittest.TestCase):
    def test_reads_percentiles_rate_and_errors(self):
        r = run.parse_wrk(WRK)
        self.assertAlmostEqual(r["p50"], 189.54)
        self.assertAlmostEqual(r["latencyMs"]["p90"], 0.86526)
        self.assertAlmostEqual(r["p99"], 2500.0)
        self.assertAlmostEqual(r["mean"], 208.86)
        self.assertAlmostEqual(r["max"], 1350.0)
        self.assertEqual(r["requests"], 19077)
        self.assertAlmostEqual(r["requestsPerSec"], 950.94)
        self.assertEqual(r["non2xx"], 12)
        self.assertEqual(r["socketErrors"], {"connect": 0, "read": 3, "write": 0, "timeout": 7})

    def test_clean_run_has_no_errors(self):
        text = "\n".join(l for l in WRK.splitlines() if "errors" not in l and "Non-2xx" not in l)
        r = run.parse_wrk(text)
        self.assertEqual(r["non2xx"], 0)
        self.assertNotIn("socketErrors", r)


class WriteSection(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "RESULTS.md")

    def tearDown(self):
        self.dir.cleanup()

    def read(self):
        with open(self.path) as f:
            return f.read()

    def test_appends_at_the_end_then_replaces_in_place(self):
        with open(self.path, "w") as f:
            f.write("# Results\n\n<!-- other: begin -->\nx\n<!-- other: end -->\n\nnotes\n")
        run.write_section(self.path, "first\n")
        text = self.read()
        self.assertTrue(text.startswith("# Results\n\n<!-- other: begin -->\nx\n"))
        self.assertTrue(text.endswith(f"notes\n\n{run.BEGIN}\nfirst\n{run.END}\n"))
        # Hand-written text after the section survives a rewrite.
        with open(self.path, "a") as f:
            f.write("\nafterwards\n")
        run.write_section(self.path, "second")
        text = self.read()
        self.assertIn(f"{run.BEGIN}\nsecond\n{run.END}\n", text)
        self.assertNotIn("first", text)
        self.assertIn("notes\n", text)
        self.assertTrue(text.endswith("afterwards\n"))
        self.assertEqual(text.count(run.BEGIN), 1)

    def test_creates_the_file(self):
        run.write_section(self.path, "only")
        self.assertEqual(self.read(), f"{run.BEGIN}\nonly\n{run.END}\n")


if __name__ == "__main__":
    unittest.main()
