"""switchyard-router benchmark: the router against a zero-overhead baseline, in one run.

Run from the repository root: `python -m bench --quick` (about two minutes) or `python -m bench`
(the full matrix). See docs/performance.md for what is measured and how to read the results.

Modules: `bodies` (the Anthropic requests), `wire` (upstream replies per provider format),
`fakes` (the fast fake upstreams, a process), `load` (the load generator, a process),
`deploy` (credentials, config, the router process), `measure` (/proc CPU and memory),
`cells` (one measured load), `run` (the experiments), `report` (targets, Markdown, plot),
`profile` (the hot-path profile).
"""
