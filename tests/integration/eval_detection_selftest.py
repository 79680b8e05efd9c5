#!/usr/bin/env python3
"""Self-test of eval_detection.py on small hand-made label and alert files.

Each case writes labels and alerts, runs the evaluator as the tests do (a
subprocess, --json) and asserts its numbers and exit code, so a change that
breaks the scoring fails here. Prints one line per case; exits 1 on the
first wrong number.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.join(HERE, "eval_detection.py")
W = 300_000          # 5-minute windows
T0 = 1_790_812_800_000  # 2026-10-01T00:00:00Z
DAY = 86_400_000
MIN = 60_000


def label(entity, kind, rule, expect, start, end):
    return {"scenario": "detection", "rule": rule, "entity_type": "distribution", "entity_id": entity,
            "domain": entity.lower() + ".cloudfront.net", "project": "p", "start": start, "end": end,
            "multiplier": 1, "expect": expect, "kind": kind}


def alert(aid, rule, entity, ws, status="firing", suppressed_by=None):
    return {"alert_id": aid, "event_id": f"{aid}-{status[0]}-{ws}", "status": status, "severity": "critical",
            "rule": rule, "entity_type": "distribution", "entity_id": entity, "window_start": ws,
            "window_end": ws + W, "suppressed_by": suppressed_by, "replay": True}


def run(labels, alerts, *extra):
    with tempfile.TemporaryDirectory() as d:
        lp, ap = os.path.join(d, "labels.jsonl"), os.path.join(d, "alerts.jsonl")
        with open(lp, "w") as f:
            f.writelines(json.dumps(x) + "\n" for x in labels)
        with open(ap, "w") as f:
            f.writelines(json.dumps(x) + "\n" for x in alerts)
        p = subprocess.run([sys.executable, EVAL, "--labels", lp, "--alerts", ap, "--window-ms", str(W),
                            "--json", *extra], capture_output=True, text=True)
        return p.returncode, json.loads(p.stdout), p.stderr


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}")
        sys.exit(1)


# A 14-day run: E1..E4 normal, ET tiny; 20 distributions in all, 19 normal.
S = T0 + 8 * DAY + 13 * 60 * MIN + 2 * MIN  # 13:02, inside the window starting 13:00
LABELS = [
    label("E1", "ddos", "request_spike", "alert", S, S + 30 * MIN),
    label("E2", "403_storm", "error_403_rate", "alert", S + DAY, S + DAY + 45 * MIN),
    label("E4", "promotion_registered", "request_spike", "suppressed", S + 2 * DAY, S + 2 * DAY + 180 * MIN),
    label("ET", "tiny", None, "none", T0, T0 + 14 * DAY),
]
W0 = S - 2 * MIN  # the window holding the label start


def case_mixed():
    alerts = [
        alert("a1", "request_spike", "E1", W0 + W),                 # detected, 0.6 windows late
        alert("a1", "request_spike", "E1", W0 + 2 * W),             # an update: counted once
        alert("a1", "request_spike", "E1", W0 + 7 * W, "resolved"),
        alert("a2", "error_403_rate", "E1", W0 + 3 * W),            # related: same entity, in the span
        alert("a3", "request_spike", "E3", T0 + 3 * DAY),           # false: nothing labelled there
        alert("a4", "request_spike", "E4", S + 2 * DAY, suppressed_by="evt-0123456789ab"),
        alert("a5", "error_403_rate", "E2", S + DAY + 50 * MIN + 2 * W),  # too late: false
        alert("a6", "request_spike", "E2", S + DAY),                # wrong rule: related, E2 missed
    ]
    rc, r, err = run(LABELS, alerts, "--distributions", "20")
    check("mixed: exit code", rc, 1)
    check("mixed: recall", r["recall"], 0.5)
    check("mixed: incidents", r["incidents"], 6)
    check("mixed: false alerts", r["false_alerts"], 2)
    check("mixed: related", r["related_incidents"], 2)
    check("mixed: precision", round(r["precision"], 6), round(1 - 2 / 5, 6))
    check("mixed: median delay", round(r["median_delay_windows"], 6), round((W0 + W - S) / W, 6))
    check("mixed: normal distributions", r["normal_distributions"], 19)
    check("mixed: days", r["days"], 14)
    check("mixed: false per dist week", round(r["false_per_dist_week"], 6), round(2 / (19 * 2), 6))
    check("mixed: suppressed ok", r["suppressed_ok"], [1, 1])
    check("mixed: none ok", r["none_ok"], [1, 1])
    check("mixed: recall is named", "recall" in err and "403_storm/E2" in err, True)
    print("ok: detected, missed, wrong rule, related, false, suppressed and an update are scored")


def case_pass():
    alerts = [
        alert("b1", "request_spike", "E1", W0),                     # first window: delay 0
        alert("b2", "error_403_rate", "E2", S + DAY - 2 * MIN + W),
        alert("b3", "request_spike", "E4", S + 2 * DAY, suppressed_by="evt-0123456789ab"),
    ]
    rc, r, err = run(LABELS, alerts, "--distributions", "20")
    check("pass: exit code", rc, 0)
    check("pass: recall", r["recall"], 1.0)
    check("pass: precision", r["precision"], 1.0)
    check("pass: median delay", round(r["median_delay_windows"], 6), round(((W - 2 * MIN) / W) / 2, 6))
    check("pass: no failures", r["failures"], [])
    print("ok: a clean replay passes")


def case_quiet_failures():
    alerts = [
        alert("c1", "request_spike", "E1", W0),
        alert("c2", "error_403_rate", "E2", S + DAY),
        alert("c3", "request_spike", "E4", S + 2 * DAY + 60 * MIN),           # promotion not suppressed
        alert("c4", "request_spike", "ET", T0 + DAY, suppressed_by="silence-1"),  # tiny: any incident fails
    ]
    rc, r, err = run(LABELS, alerts, "--distributions", "20")
    check("quiet: exit code", rc, 1)
    check("quiet: recall", r["recall"], 1.0)
    check("quiet: suppressed ok", r["suppressed_ok"], [0, 1])
    check("quiet: none ok", r["none_ok"], [0, 1])
    check("quiet: false alerts", r["false_alerts"], 1)  # the unsuppressed promotion alert
    check("quiet: failures named", "suppressed label" in err and "none label" in err, True)
    print("ok: an unsuppressed promotion and an alert on a tiny distribution fail")


def case_too_noisy_and_slow():
    alerts = [
        alert("d1", "request_spike", "E1", W0 + 4 * W),  # 3.6 windows late
        alert("d2", "error_403_rate", "E2", S + DAY + 3 * W),
    ] + [alert(f"n{i}", "request_spike", "E3", T0 + i * DAY) for i in range(40)]
    rc, r, err = run(LABELS, alerts, "--distributions", "20")
    check("noisy: exit code", rc, 1)
    check("noisy: false alerts", r["false_alerts"], 40)
    check("noisy: false per dist week", round(r["false_per_dist_week"], 6), round(40 / (19 * 2), 6))
    check("noisy: failures named", "false_per_dist_week" in err and "median_delay_windows" in err, True)
    print("ok: too many false alerts and a slow median fail")


def main():
    case_mixed()
    case_pass()
    case_quiet_failures()
    case_too_noisy_and_slow()
    print("eval_detection self-test: 4 cases passed")


if __name__ == "__main__":
    main()
