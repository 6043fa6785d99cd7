"""Reads HdrHistogram interval logs (.hlog) with HdrHistogram's own Python port (the PyPI
`hdrhistogram` package, module `hdrh`) and prints what it read as JSON, so the export tests
can compare it with loopbench's figures. An independent reader: nothing here is loopbench's.

Usage: read_hlog.py FILE.hlog...
Output: {"files": [{"path", "start_time", "intervals": [{"tag", "start", "end", "total",
         "min", "max", "percentiles": {"50.0": v, ...}, "buckets": [[value, count], ...]}]}]}
Exit status: 0 read; 1 a file has no interval or does not parse.
"""

import json
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

PERCENTILES = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0]


def read(path):
    # The reference histogram is only used by add_next_interval_histogram; its bounds do
    # not matter for get_next_interval_histogram, which builds each from its own header.
    reader = HistogramLogReader(path, HdrHistogram(1, 3_600_000_000, 3))
    intervals = []
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        intervals.append(
            {
                "tag": h.get_tag(),
                "start": h.get_start_time_stamp() / 1000.0,
                "end": h.get_end_time_stamp() / 1000.0,
                "total": h.get_total_count(),
                "min": h.get_min_value(),
                "max": h.get_max_value(),
                "percentiles": {
                    str(p): h.get_value_at_percentile(p) for p in PERCENTILES
                },
                "buckets": [
                    [item.value_iterated_to, item.count_at_value_iterated_to]
                    for item in h.get_recorded_iterator()
                ],
            }
        )
    reader.close()
    if not intervals:
        raise ValueError(f"{path}: no interval histogram read")
    return {"path": path, "start_time": reader.get_start_time_sec(), "intervals": intervals}


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        files = [read(p) for p in paths]
    except Exception as e:  # one clear line, not a traceback
        print(f"read_hlog: {e}", file=sys.stderr)
        return 1
    json.dump({"files": files}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
