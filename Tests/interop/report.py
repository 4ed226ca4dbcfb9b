"""The pass/fail tally the interop scripts share: one line per check, then `N passed, M failed`."""


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, label, problems):
        """problems: a list of strings (empty = pass) or a single string / None."""
        if isinstance(problems, str):
            problems = [problems]
        problems = [p for p in (problems or []) if p]
        if problems:
            self.failed += 1
            more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
            print(f"FAIL {label}: " + "; ".join(problems[:5]) + more, flush=True)
        else:
            self.passed += 1
            print(f"ok   {label}", flush=True)

    def info(self, label):
        print(f"info {label}", flush=True)
