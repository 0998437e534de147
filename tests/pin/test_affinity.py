"""CPU lists: parsing, formatting, and checking them against the CPUs that exist."""

from __future__ import annotations

import os

import pytest

from alphapulse_cli.errors import UsageError
from alphapulse_cli.pin.affinity import check_cpus, format_cpu_list, parse_cpu_list

ALLOWED = sorted(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("0", {0}),
        ("2-3,5", {2, 3, 5}),
        ("0-7:2", {0, 2, 4, 6}),
        ("3,3,1-2", {1, 2, 3}),
        ("10-12", {10, 11, 12}),
    ],
)
def test_parse_cpu_list(text, cpus):
    assert parse_cpu_list(text) == cpus
    assert parse_cpu_list(format_cpu_list(cpus)) == cpus


@pytest.mark.parametrize(
    "text", ["", " 1", "1,", ",1", "1,,2", "a", "3-1", "-1", "1-", "1-3:0", "0x3", "1.5", "99999"]
)
def test_malformed_cpu_lists_are_usage_errors(text):
    with pytest.raises(UsageError, match="expected CPU numbers"):
        parse_cpu_list(text)


def test_format_cpu_list():
    assert format_cpu_list([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert format_cpu_list([]) == ""


def test_check_cpus_drops_cpus_that_do_not_exist():
    usable, warnings = check_cpus({ALLOWED[0], 4000})
    assert usable == {ALLOWED[0]}
    assert any("CPU 4000 does not exist" in w for w in warnings)
    with pytest.raises(UsageError, match="no such CPU"):
        check_cpus({4000, 4001})
