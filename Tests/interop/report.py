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


def lsrconv_binary(argv, root):
    """The lsrconv executable named on the command line (default .build/debug/lsrconv): a path is
    taken from the current directory, else from the repository root `root`. None (with a message
    on stderr) when there is no executable there."""
    import os
    import sys
    from pathlib import Path

    binary = argv[1] if len(argv) > 1 else ".build/debug/lsrconv"
    if os.sep in binary:
        here = Path.cwd() / binary
        binary = str((here if here.exists() else Path(root) / binary).resolve())
    if os.sep in binary and not os.access(binary, os.X_OK):
        print(f"error: {binary}: no lsrconv executable there (build it first: swift build)", file=sys.stderr)
        return None
    return binary
