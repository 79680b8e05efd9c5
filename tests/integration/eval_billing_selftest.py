#!/usr/bin/env python3
"""Self-test of eval_billing.py on small hand-made label, alert and truth files.

Each case writes the files, runs the evaluator as the tests do (a
subprocess, --json; one case also reads the text report) and asserts its
counts and exit code: a correct set passes, and each kind of wrong answer
(no alert, a late or early first refresh, a wrong top service or value, a
quiet project alerting, a false alert, totals off by one micro, missing or
extra) fails. Prints one line per case; exits 1 on the first wrong number.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.join(HERE, "eval_billing.py")
HOUR = 3_600_000
T0 = 1_791_072_000_000  # 2026-10-04T00:00:00Z

LABELS = [
    {"kind": "cost_jump", "project": "streaming", "rule": "cost_spike", "start": "2026-10-16T06:00:00Z",
     "first_refresh": "2026-10-16T16", "top_service": "AmazonMSK", "top_dimension": "usage_type",
     "top_value": "USE1-Kafka.m5.2xlarge", "impact_per_day": 2400.0},
    {"kind": "cost_jump", "project": "web-frontend", "rule": "cost_spike", "start": "2026-10-18T22:00:00Z",
     "first_refresh": "2026-10-19T08", "top_service": "AmazonCloudFront", "top_dimension": "resource_id",
     "top_value": "E1WEB0000000031", "impact_per_day": 3000.0},
    {"kind": "quiet", "project": "analytics", "reason": "restatement"},
    {"kind": "quiet", "project": "payments", "reason": "credit"},
]
TRUTH = [
    {"project": "streaming", "day": "2026-10-16", "micros": 5_123_456_789},
    {"project": "web-frontend", "day": "2026-10-16", "micros": 6_000_000_001},
    {"project": "payments", "day": "2026-10-16", "micros": 2_699_710_000},
    {"project": "untagged", "day": "2026-10-16", "micros": 1_000_000_000},
]


def alert(aid, project, version, rule="cost_spike", status="firing", top=None, entity_type="project"):
    return {"alert_id": aid, "rule": rule, "status": status, "entity_type": entity_type, "entity_id": project,
            "report_version": version, "window_start": T0, "window_end": T0 + 24 * HOUR,
            "top_contributors": top or []}


def contrib(dimension, value, impact):
    return {"dimension": dimension, "value": value, "impact": impact, "share": 0.5}


MSK_TOP = [contrib("usage_type", "USE1-Kafka.m5.2xlarge", 3200.0), contrib("service", "AmazonMSK", 2400.0),
           contrib("usage_type", "USE1-Kafka.m5.large", -800.0)]
CDN_TOP = [contrib("service", "AmazonCloudFront", 3000.0), contrib("usage_type", "US-DataTransfer-Out-Bytes", 3000.0),
           contrib("resource_id", "E1WEB0000000031", 3000.0), contrib("resource_id", "E1WEB0000000032", 12.0)]


def good_alerts():
    return [
        alert("t1", "E1ABC", "2026-10-16T08", rule="request_spike", entity_type="distribution"),  # traffic: ignored
        alert("s1", "streaming", "2026-10-16T16", top=MSK_TOP),
        alert("s1", "streaming", "2026-10-17T00", top=MSK_TOP[1:]),    # an update of the same incident
        alert("w1", "web-frontend", "2026-10-19T08", top=CDN_TOP),
        alert("a0", "analytics", "2026-10-17T16", status="resolved"),   # not firing: ignored
        alert("s2", "streaming", "2026-10-25T00", top=MSK_TOP),         # a later incident: not false
    ]


def run(alerts, labels=LABELS, truth=None, totals=None, text=False):
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, rows in (("alerts", alerts), ("labels", labels), ("truth", truth), ("totals", totals)):
            if rows is None:
                continue
            paths[name] = os.path.join(d, name + ".jsonl")
            with open(paths[name], "w") as f:
                f.writelines(json.dumps(x) + "\n" for x in rows)
        cmd = [sys.executable, EVAL] + [a for k, v in paths.items() for a in (f"--{k}", v)]
        p = subprocess.run(cmd + ([] if text else ["--json"]), capture_output=True, text=True)
        return p.returncode, (p.stdout if text else json.loads(p.stdout))


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}")
        sys.exit(1)


def case_pass():
    rc, r = run(good_alerts(), truth=TRUTH, totals=TRUTH + [{"project": "x", "day": "2026-10-16", "micros": 0}])
    check("pass: exit code", rc, 0)
    check("pass: counts", [r["recall"], r["first_refresh"], r["top_contributor"], r["jumps"]], [2, 2, 2, 2])
    check("pass: false", r["false_alerts"], 0)
    check("pass: incidents", r["incidents"], 3)
    check("pass: precision", r["precision"], 1.0)
    check("pass: quiet", [r["quiet_clean"], r["quiet"]], [2, 2])
    check("pass: totals", r["totals"], [4, 4])
    rc, out = run(good_alerts(), truth=TRUTH, totals=TRUTH, text=True)
    check("pass: report exit code", rc, 0)
    want = ("billing: recall 2/2, first refresh 2/2, top contributor 2/2, false 0, precision 1.000, "
            "quiet 2/2 clean, totals 4/4 exact")
    check("pass: summary line", out.strip().splitlines()[-1], want)
    check("pass: one line per label", sum(l.startswith(("hit ", "ok  ")) for l in out.splitlines()), 4)
    print("ok: a correct set passes (traffic alerts, resolved events, updates and later incidents ignored)")


def case_missed():
    rc, r = run([a for a in good_alerts() if a["entity_id"] != "web-frontend"])
    check("missed: exit code", rc, 1)
    check("missed: recall", r["recall"], 1)
    check("missed: totals not checked", r["totals"], None)
    print("ok: a jump without an alert fails recall")


def case_refresh():
    late = good_alerts()
    late[1]["report_version"] = "2026-10-17T00"                       # one refresh late
    rc, r = run(late)
    check("late: exit code", rc, 1)
    check("late: recall and first refresh", [r["recall"], r["first_refresh"]], [2, 1])
    early = [alert("s0", "streaming", "2026-10-12T08", top=MSK_TOP)] + good_alerts()  # before the jump
    rc, r = run(early)
    check("early: exit code", rc, 1)
    check("early: first refresh", r["first_refresh"], 1)
    check("early: not false", r["false_alerts"], 0)
    rc, out = run(early, text=True)
    check("early: reason named", "first fired in refresh 2026-10-12T08, want 2026-10-16T16" in out, True)
    print("ok: a late or an early first alert fails first refresh")


def case_top():
    wrong_service = good_alerts()
    wrong_service[1]["top_contributors"] = [contrib("service", "AmazonEC2", 900.0)] + MSK_TOP
    rc, r = run(wrong_service)
    check("top service: exit code", rc, 1)
    check("top service: counts", [r["first_refresh"], r["top_contributor"]], [2, 1])
    wrong_value = good_alerts()
    wrong_value[3]["top_contributors"] = [c for c in CDN_TOP if c["value"] != "E1WEB0000000031"]
    rc, r = run(wrong_value)
    check("top value: exit code", rc, 1)
    check("top value: counts", r["top_contributor"], 1)
    print("ok: a wrong top service or top resource id fails top contributor")


def case_quiet():
    rc, r = run(good_alerts() + [alert("p1", "payments", "2026-10-20T08", rule="cost_drop")])
    check("quiet drop: exit code", rc, 1)
    check("quiet drop: clean", r["quiet_clean"], 1)
    check("quiet drop: not a false spike", r["false_alerts"], 0)
    rc, r = run(good_alerts() + [alert("a1", "analytics", "2026-10-17T16")])
    check("quiet spike: exit code", rc, 1)
    check("quiet spike: clean and false", [r["quiet_clean"], r["false_alerts"]], [1, 1])
    print("ok: a quiet project with a firing cost_drop or cost_spike fails")


def case_false():
    extra = [alert("f1", "search", "2026-10-20T00"), alert("f1", "search", "2026-10-20T08"),
             alert("f2", "untagged", "2026-10-21T00")]
    rc, r = run(good_alerts() + extra)
    check("false: exit code", rc, 1)
    check("false: count (incidents, not events)", r["false_alerts"], 2)
    check("false: precision", r["precision"], 3 / 5)
    print("ok: cost_spike incidents on unlabelled projects are false alerts")


def case_totals():
    off = [dict(t) for t in TRUTH]
    off[1]["micros"] += 1
    rc, r = run(good_alerts(), truth=TRUTH, totals=off)
    check("off by one: exit code", rc, 1)
    check("off by one: totals", r["totals"], [3, 4])
    rc, r = run(good_alerts(), truth=TRUTH, totals=TRUTH[:2] + TRUTH[3:])
    check("missing: totals", [rc, r["totals"]], [1, [3, 4]])
    extra = TRUTH + [{"project": "streaming", "day": "2026-10-17", "micros": 5}]
    rc, r = run(good_alerts(), truth=TRUTH, totals=extra)
    check("extra: totals", [rc, r["totals"]], [1, [4, 5]])
    split = TRUTH[:3] + [{"project": "untagged", "day": "2026-10-16", "micros": 600_000_000},
                         {"project": "untagged", "day": "2026-10-16", "micros": 400_000_000}]
    rc, r = run(good_alerts(), truth=TRUTH, totals=split)
    check("split rows add up: totals", [rc, r["totals"]], [0, [4, 4]])
    print("ok: totals off by one micro, missing or extra fail; rows of one project-day add up")


def main():
    case_pass()
    case_missed()
    case_refresh()
    case_top()
    case_quiet()
    case_false()
    case_totals()
    print("eval_billing self-test: 7 cases passed")


if __name__ == "__main__":
    main()
