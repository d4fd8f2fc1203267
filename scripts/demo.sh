#!/usr/bin/env bash
# The main job, for now: code actions through the executor with the test skill
# set (the built-in simulator arrives with the simulator issue). Shows the
# sandbox in force, then runs a few actions and prints their observations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q
bin=target/release/codeact
$bin doctor
echo
echo "== code actions through 'codeact session' (JSON lines) =="
python3 - "$bin" <<'PY'
import json, subprocess, sys
actions = [
    "p = pose(1.0, 2.0)\nprint('pose:', p)\np.distance_to(pose())",
    "total = 0\nfor i in range(100):\n    total = add(total, i)\ntotal",
    "try:\n    fail('wall ahead', 'Blocked')\nexcept RobotError as e:\n    print('caught', type(e).__name__, e)",
    "import time\ntime.sleep(60)",
    "open('/etc/evil', 'w')",
]
proc = subprocess.Popen([sys.argv[1], "session", "--timeout", "1"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True)
for i, code in enumerate(actions, 1):
    proc.stdin.write(json.dumps({"type": "execute", "id": i, "code": code}) + "\n")
proc.stdin.close()
for line in proc.stdout:
    msg = json.loads(line)
    if msg["type"] == "observation":
        print(f"--- action {msg['id']} ---")
        print(actions[msg["id"] - 1])
        print(">>>")
        print(msg["text"])
proc.wait()
PY
