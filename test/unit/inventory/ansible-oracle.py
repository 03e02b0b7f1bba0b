"""The oracle for edge's inventory parity tests: Ansible itself (ansible-core's own classes, the
code ansible-inventory --list and ansible PATTERN --list-hosts run), batched so that one Python
process answers for the whole corpus. Reads jobs as JSON on stdin, writes answers as JSON.

Each job: {"id", "sources": [paths], "playbook_dir", "extra_vars": [..], "patterns": [[pattern, limit]]}
Each answer: {"list": <ansible-inventory --list output, parsed>, "warnings": [..],
              "hosts": [[names] or {"error": text}], "error": text (when the inventory failed)}
"""
import json
import os
import sys

os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "true")
os.environ["ANSIBLE_NOCOLOR"] = "1"

from ansible import context  # noqa: E402
from ansible.cli.inventory import InventoryCLI  # noqa: E402
from ansible.utils.context_objects import GlobalCLIArgs  # noqa: E402
from ansible.utils.display import Display  # noqa: E402

warnings = []
Display.warning = lambda self, msg, formatted=False: warnings.append(str(msg))


def run(job):
    del warnings[:]
    args = ["ansible-inventory", "--list"]
    for s in job["sources"]:
        args += ["-i", s]
    if job.get("playbook_dir"):
        args += ["--playbook-dir", job["playbook_dir"]]
    for e in job.get("extra_vars", []):
        args += ["-e", e]
    out = {}
    try:
        cli = InventoryCLI(args)
        cli.parse()
        cli.loader, cli.inventory, cli.vm = cli._play_prereqs()
        text = cli.dump(cli.json_inventory(cli._get_group("all")))
        out["list"] = json.loads(text)
    except Exception as e:  # an inventory Ansible refuses
        out["error"] = str(e)
        return out
    hosts = []
    inv = cli.inventory
    for pattern, limit in job.get("patterns", []):
        inv.subset(None)
        inv.clear_pattern_cache()
        try:
            inv.subset(limit)
            hosts.append([h.name for h in inv.list_hosts(pattern)])
        except Exception as e:
            hosts.append({"error": str(e)})
    out["hosts"] = hosts
    out["warnings"] = list(warnings)
    return out


jobs = json.load(sys.stdin)
cwd = os.getcwd()
answers = {}
for job in jobs:
    os.chdir(job.get("cwd", cwd))
    answers[job["id"]] = run(job)
    # ansible's CLI arguments are a process-wide singleton: forget them before the next job
    GlobalCLIArgs._Singleton__instance = None
json.dump(answers, sys.stdout)
