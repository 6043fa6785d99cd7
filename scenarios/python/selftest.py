"""Twins of scenarios/src/selftest.rs: a twin that hangs and one that aborts, so the
runner's timeout and crash cells are shown on the Python columns too."""

import os
import time


def hang():
    while True:
        time.sleep(3600)


def abort():
    os.abort()


TWINS = {"selftest.hang": hang, "selftest.abort": abort}
KILLS = {}
