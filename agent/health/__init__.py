"""Health checks of a donated machine's parts, each giving a verdict with its reasons.

`model` holds what every check returns (`CheckResult`, `Finding`, the verdicts); one module per
part holds its checks and the thresholds they apply: `disk` (the drive's SMART data and its own
self-test), `cpu_load` (the processor and its cooling under a stress-ng load, with `thermal`
reading the temperatures and throttle counters from sysfs), `memory` (a userspace RAM test),
`battery` (wear, cycles and a timed discharge) and `platform` (what stops a donation: firmware
passwords, Intel AMT, Absolute, the TPM, Secure Boot). `checkup` runs them in a run: which
one when, on which part, for how long, and what the run keeps of them. docs/grading.md lists
every rule, its threshold and where the threshold comes from.
"""
