"""`make bench`: what Candor costs and how it compares (issue 6), one module per figure.

    python -m infra.bench [--quick] [--out bench-results/results.json] [--markdown FILE]

Every figure is a ratio of two things measured side by side in the same run, reported as
median and spread over repeated runs, with the machine and the date.
"""
