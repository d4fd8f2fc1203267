#!/usr/bin/env bash
# The main job on the built-in simulator: code actions, as an LLM would write
# them, bring the red box to the packing zone of the warehouse world through
# `codeact session`. Prints each action and its observation and leaves a
# picture of the run (trajectory, lidar, objects, zones) in demo-run.png.
# (The agent loop, with a real LLM writing the actions, replaces the script.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q
bin=target/release/codeact
picture=${1:-demo-run.png}
$bin doctor --world warehouse | tail -n 3
echo
echo "== code actions on the simulated warehouse robot (codeact session --world warehouse) =="
python3 - "$bin" "$picture" <<'PY'
import json, subprocess, sys
actions = [
    "print(get_pose(), get_battery())\nfor z in list_zones():\n    print(z.name, (z.x, z.y))",
    "# Look down the aisles from their left ends until the red box shows up.\nfound = None\nfor y in (3.6, 5.6, 7.6):\n    move_to(1.0, y, theta=0.0)\n    boxes = [o for o in detect_objects() if o.kind == 'box']\n    print(f'from y={y}:', [(o.name, round(o.distance, 1)) for o in boxes])\n    found = next((o for o in boxes if o.colour == 'red'), None)\n    if found:\n        break\nfound",
    "go_to(found.name)\npick(found.name)\nholding()",
    "try:\n    move_to(3.0, 2.7)   # inside a shelf\nexcept Unreachable as e:\n    print('cannot go there:', e)",
    "go_to('packing')\nplace()\nsay('The red box is in the packing zone.')\nget_pose()",
]
proc = subprocess.Popen([sys.argv[1], "session", "--world", "warehouse", "--picture", sys.argv[2]],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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
sys.exit(proc.wait())
PY
