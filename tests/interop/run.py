#!/usr/bin/env python3
"""Runs the interop suite against ternd (env TERND, default build/ternd).

    python3 tests/interop/run.py                 # everything
    python3 tests/interop/run.py smtplib lmtp    # tests whose id contains a word

Prints one line per test, then "N passed, N failed, N skipped"; exits 1 on
any failure or error.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ternlib  # noqa: E402


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _took(self):
        return " (%.1f s)" % (time.monotonic() - self._started)

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self.stream.writeln("PASS  %s%s" % (test.id(), self._took()))

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self.stream.writeln("FAIL  %s%s" % (test.id(), self._took()))

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self.stream.writeln("ERROR %s%s" % (test.id(), self._took()))

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self.stream.writeln("SKIP  %s: %s" % (test.id(), reason))

    def startTestRun(self):
        pass

    def printErrors(self):
        self.stream.writeln()
        super().printErrors()


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def main(argv):
    words = [a for a in argv if not a.startswith("-")]
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(flatten(suite))
    if words:
        tests = [t for t in tests if any(w in t.id() for w in words)]
    print("interop: ternd = %s, %d tests" % (ternlib.TERND, len(tests)), flush=True)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0, resultclass=Result)
    result = runner.run(unittest.TestSuite(tests))
    # A test whose body and tearDown both fail is reported twice: count tests.
    failed = len({t.id() for t, _ in result.failures + result.errors}) + \
        len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
