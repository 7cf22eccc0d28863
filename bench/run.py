"""Benchmarks against the real PostgreSQL with gunicorn on loopback (``make bench``).

For each trial size N (default 1,000; ``BENCH_SIZES="1000 10000"`` for both):
load N participants with all visits and questionnaires through
``import_trial_data``, serve the site with gunicorn, and measure median and
95th-percentile latency and throughput at 1 and 16 concurrent clients for the
nurse's pages, saving a questionnaire and randomizing, next to two floors
measured in the same run (a bare Django view, and one that inserts a row).
Also: SQL queries per page, the DSMB analysis (cold in the task, warm from the
stored result), and 200 concurrent randomizations (rate, duplicates, gaps).
Prints one table and writes it as JSON to bench/results/.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench-password-2026"  # noqa: S105 - a throwaway benchmark database
PORT = int(os.environ.get("BENCH_PORT", "8799"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
BASE_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mlt_bench")


def log(message: str) -> None:
    print(message, flush=True)


# --- data ------------------------------------------------------------------------------


def write_trial(directory: Path, n: int) -> None:
    """Interchange files for N randomized participants, every visit and questionnaire."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trial.settings")
    import django

    django.setup()
    from analysis.interchange import (
        ADVERSE_EVENTS_FILE,
        PARTICIPANTS_FILE,
        SCREENING_FILE,
        file_columns,
    )
    from followup.windows import add_months
    from questionnaires.definitions import all_item_keys
    from questionnaires.scoring import TICS_VERSIONS

    items = all_item_keys()
    rng = random.Random(n)
    start = date.today() - timedelta(days=n // 20 + 400)
    with (
        open(directory / "screening.csv", "w", newline="") as s_file,
        open(directory / "participants.csv", "w", newline="") as p_file,
        open(directory / "visits.csv", "w", newline="") as v_file,
        open(directory / "adverse_events.csv", "w", newline="") as a_file,
    ):
        # The contract's columns, as the import declares them.
        columns = {name: [c.name for c in cols] for name, cols in file_columns().items()}
        screening = csv.writer(s_file)
        screening.writerow(columns[SCREENING_FILE])
        participants = csv.writer(p_file)
        participants.writerow(columns[PARTICIPANTS_FILE])
        visits = csv.writer(v_file)
        visits.writerow(["study_id", "visit", "visit_date", *items])
        events = csv.writer(a_file)
        events.writerow(columns[ADVERSE_EVENTS_FILE])
        for i in range(1, n + 1):
            study_id = f"MLT-{i:05d}"
            screened = start + timedelta(days=i // 20)
            procedure = screened + timedelta(days=3)
            age = rng.randint(25, 68)
            screening.writerow([f"MLT-S{i:05d}", screened, age, *[0] * 8, 1, study_id])
            participants.writerow(
                [
                    study_id,
                    "MLT" if (i // 2) % 2 else "PLACEBO",
                    f"IMP-{i:05d}",
                    screened,
                    screened,
                    procedure,
                    age,
                    f"{rng.randint(150, 175)}.0",
                    f"{rng.randint(45, 85)}.0",
                    0,
                    rng.choice(["left", "right"]),
                    rng.choice([0, 10, 20, 40]),
                    rng.choice(["mastectomy", "lumpectomy"]),
                    rng.choice(["none", "C+A", "C+E+T"]),
                    1,
                    0,
                    0,
                    "on_study",
                    screened,
                    "",
                ]
            )
            for code, months in (("baseline", 0), ("m1", 1), ("m3", 3), ("m6", 6)):
                day = screened if months == 0 else add_months(procedure, months)
                if day >= date.today():
                    continue
                row = {key: "" for key in items}
                for key in items:
                    if key.startswith(("sfmpq_", "gad7_", "phq9_", "psqi_5")) and not key.endswith(
                        ("_vas_mm", "_ppi", "_text")
                    ):
                        row[key] = rng.choice([0, 0, 1, 2])
                row.update(
                    sfmpq_vas_mm=rng.randint(0, 60),
                    sfmpq_ppi=rng.randint(0, 3),
                    phq9_9=0,
                    psqi_1="22:30",
                    psqi_2=rng.choice([10, 20, 40]),
                    psqi_3="06:30",
                    psqi_4="7:00",
                    psqi_5j="",
                    psqi_6=1,
                    psqi_7=0,
                    psqi_8=0,
                    psqi_9=1,
                )
                if code == "m6":
                    for key, maximum in TICS_VERSIONS["tics41"].items():
                        row[key] = maximum - rng.randint(0, 1)
                visits.writerow([study_id, code, day, *[row[key] for key in items]])
            if i % 10 == 0:
                events.writerow(
                    [
                        study_id,
                        procedure + timedelta(days=20),
                        "Nausea",
                        0,
                        "mild",
                        "possible",
                        "recovered",
                    ]
                )


# --- serving and measuring -------------------------------------------------------------


class Session:
    def __init__(self, cookies: str) -> None:
        self.cookies = cookies

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        headers = {"Cookie": self.cookies, "Host": "127.0.0.1"}
        payload = None
        if body is not None:
            csrf = re.search(r"csrftoken=([^;]+)", self.cookies).group(1)
            payload = urlencode({**body, "csrfmiddlewaretoken": csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{PORT}{path}"
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data


def login(username: str) -> Session:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    connection.request("GET", "/accounts/login/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    connection.request(
        "POST",
        "/accounts/login/",
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
            "Referer": f"http://127.0.0.1:{PORT}/accounts/login/",
        },
    )
    response = connection.getresponse()
    response.read()
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    if not session:
        raise RuntimeError(f"could not log in as {username}")
    return Session(f"csrftoken={cookie}; sessionid={session.group(1)}")


def measure(name: str, make_request, clients: int, count: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(count))

    def worker() -> None:
        nonlocal errors
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            started = time.perf_counter()
            status = make_request(index)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status >= 400:
                    errors += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "page": name,
        "clients": clients,
        "requests": count,
        "errors": errors,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "throughput_rps": round(count / wall, 1),
    }


def main() -> None:  # noqa: C901 - one script, read top to bottom
    sizes = [int(n) for n in os.environ.get("BENCH_SIZES", "1000").split()]
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        # UTC: Django sets the process's TZ to the trial's zone once settings load.
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sizes": {},
    }
    for n in sizes:
        results["sizes"][str(n)] = run_size(n)
    # The rule: SQL per page must not grow with the trial.
    counts = [size["queries_per_page"] for size in results["sizes"].values()]
    results["queries_equal_across_sizes"] = all(c == counts[0] for c in counts)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps(results, indent=1))
    # latest.json keeps the newest result of every size run so far.
    latest_path = RESULTS / "latest.json"
    latest = json.loads(latest_path.read_text()) if latest_path.exists() else {"sizes": {}}
    latest.update({k: v for k, v in results.items() if k != "sizes"})
    latest["sizes"].update(results["sizes"])
    latest_path.write_text(json.dumps(latest, indent=1))
    print_table(results)
    log(f"\nwritten: {out}")


def run_size(n: int) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": BASE_DB,
        "REDIS_URL": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "RANDOMIZATION_KEYS": "kZm3R2mQ3yq1mZ8b2f2m2yQ3b9k2r8r0m6t5w4u3v2s=",
        "AUDIT_KEYS": "bench-audit-key-" + "a" * 32,
        "TWO_FACTOR_ENFORCED": "false",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "RANDOMIZE_RATE": "100000/m",
        "LOGIN_RATE": "100000/m",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    python = sys.executable

    def manage(*args: str) -> str:
        return subprocess.run(
            [python, str(ROOT / "manage.py"), *args],
            env=env,
            check=True,  # noqa: S603
            capture_output=True,
            text=True,
        ).stdout

    name = BASE_DB.rsplit("/", 1)[1]
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name],  # noqa: S607
        check=True,
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)  # noqa: S607
    log(f"N={n}: migrating and loading through import_trial_data")
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput", "-v0")
    manage("seed_demo", "--participants", "0", "--password", PASSWORD)
    folder = Path(tempfile.mkdtemp())
    write_trial(folder, n)
    began = time.perf_counter()
    manage("import_trial_data", str(folder), "--user", "datamanager")
    load_seconds = time.perf_counter() - began
    shutil.rmtree(folder)
    setup = manage("shell", "-c", BENCH_SETUP)
    ids = json.loads(setup.strip().splitlines()[-1])
    queries = json.loads(manage("shell", "-c", QUERY_COUNTS).strip().splitlines()[-1])

    server = subprocess.Popen(  # noqa: S603
        [
            python,
            "-m",
            "gunicorn",
            "trial.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(max(2, (os.cpu_count() or 2))),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)
        nurse = login("nurse")
        study = ids["study_ids"]
        ready = iter(ids["ready"])
        ready_lock = threading.Lock()

        def randomize(_i):
            with ready_lock:
                study_id = next(ready)
            return nurse.request(
                "POST", f"/participants/{study_id}/randomize/", {"eligibility_reconfirmed": "on"}
            )[0]

        def save_questionnaire(i):
            study_id = study[i % len(study)]
            answers = {f"gad7_{k}": str((i + k) % 2) for k in range(1, 8)}
            return nurse.request(
                "POST",
                f"/participants/{study_id}/questionnaires/baseline/gad7/enter/",
                {
                    **answers,
                    "administered_on": ids["consent"][study_id],
                    "mode": "in_person",
                    "reason": "benchmark",
                },
            )[0]

        pages = {
            "floor: bare view": lambda i: nurse.request("GET", "/bench/floor/")[0],
            "floor: insert one row": lambda i: nurse.request("POST", "/bench/floor-insert/", {})[0],
            "participant list": lambda i: nurse.request("GET", f"/participants/?page={i % 20 + 1}")[
                0
            ],
            "worklist": lambda i: nurse.request("GET", "/followup/worklist/?which=overdue")[0],
            "participant page": lambda i: nurse.request(
                "GET", f"/participants/{study[i % len(study)]}/"
            )[0],
            "save a questionnaire": save_questionnaire,
            "randomize": randomize,
        }
        floors = {"GET": "floor: bare view", "POST": "floor: insert one row"}
        methods = {
            "save a questionnaire": "POST",
            "randomize": "POST",
            "floor: insert one row": "POST",
        }
        rows = []
        for clients in (1, 16):
            measured = {}
            for page, request in pages.items():
                count = REQUESTS if page != "randomize" else min(REQUESTS, 100)
                request(0) if page not in ("randomize",) else None  # warm up
                measured[page] = measure(page, request, clients, count)
            for page, row in measured.items():
                floor = measured[floors[methods.get(page, "GET")]]
                row["ratio_to_floor"] = round(row["median_ms"] / floor["median_ms"], 2)
                rows.append(row)
    finally:
        server.terminate()
        server.wait(timeout=20)
    race = json.loads(manage("shell", "-c", RACE).strip().splitlines()[-1])
    dsmb = json.loads(manage("shell", "-c", DSMB).strip().splitlines()[-1])
    return {
        "participants": n,
        "load_seconds": round(load_seconds, 1),
        "pages": rows,
        "queries_per_page": queries,
        "randomization_race": race,
        "dsmb_analysis": dsmb,
    }


# Participants screened, consented and with a baseline: ready to randomize. Shared by
# the setup and the race (each runs in its own `manage.py shell`).
READY = r"""
from datetime import timedelta
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.utils import timezone
from trial import services as t
from trial.eligibility import ANSWERED_CRITERIA
from trial.models import ConsentFormVersion, Site

def make_ready(prefix, count):
    nurse = get_user_model().objects.get(username="nurse")
    site = Site.objects.get(code="changsha")
    version, _ = ConsentFormVersion.objects.get_or_create(
        version="bench", defaults={"approved_on": "2019-06-10"})
    today = timezone.localdate()
    people = []
    for i in range(count):
        s = t.screening_record(site=site, data=t.ScreeningInput(screening_date=today,
            initials=prefix * 2, hospital_number=f"{prefix}{i}",
            date_of_birth=today - timedelta(days=15000), sex="female",
            confirmed_diagnosis=True, scheduled_procedure_date=today + timedelta(days=2),
            answers=dict.fromkeys(ANSWERED_CRITERIA, False), evidence_dates={}), by=nurse)
        p = t.participant_consent(screening=s, consent_date=today, form_version=version,
            signed_form_filed=True, by=nurse)
        t.baseline_save(participant=p, data={"height_cm": Decimal("160"),
            "weight_kg": Decimal("60"), "comorbidity": False, "comorbidity_list": "",
            "surgical_site": "left", "preop_vas_mm": 10, "procedure_type": "mastectomy",
            "procedure_date": today + timedelta(days=2), "chemo_regimen": "none",
            "radiotherapy": False, "hormone_therapy": False, "targeted_therapy": False},
            by=nurse)
        people.append(p)
    return people
"""


BENCH_SETUP = (
    READY
    + r"""
import json
from django.contrib.auth import get_user_model
from randomization import services as r
from trial.models import Participant
stat = get_user_model().objects.get(username="statistician")
rlist = r.list_create(spec=r.ListSpec(name="bench", template="plan", arms=["MLT","PLACEBO"],
    ratio=[1,1], block_sizes=[4], n_slots=600), by=stat)
r.list_activate(rlist=rlist, by=stat)
ready = [p.study_id for p in make_ready("B", 330)]
imported = list(Participant.objects.filter(study_id__startswith="MLT-0").order_by("study_id").values_list("study_id", "consent_date")[:300])
print(json.dumps({"ready": ready, "study_ids": [s for s, _ in imported],
                  "consent": {s: d.isoformat() for s, d in imported}}))
"""
)

QUERY_COUNTS = r"""
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.contrib.auth import get_user_model
from trial.models import Participant
c = Client()
c.force_login(get_user_model().objects.get(username="nurse"))
p = Participant.objects.filter(study_id__startswith="MLT-0").first()
out = {}
for name, url in {"participant list": "/participants/", "worklist": "/followup/worklist/?which=overdue",
                  "participant page": f"/participants/{p.study_id}/", "screening log": "/screening/"}.items():
    c.get(url)
    with CaptureQueriesContext(connection) as q:
        response = c.get(url)
    assert response.status_code == 200, (url, response.status_code)
    out[name] = len(q)
print(json.dumps(out))
"""

RACE = (
    READY
    + r"""
import json, threading, time
from django.contrib.auth import get_user_model
from django.db import connection
from randomization import services as r
from randomization.models import Allocation
nurse = get_user_model().objects.get(username="nurse")
people = make_ready("R", 200)
before = set(Allocation.objects.filter(slot__isnull=False).values_list("slot__position", flat=True))
# 200 randomizations at once from 50 threads (PostgreSQL's default max_connections is 100).
WORKERS = 50
barrier = threading.Barrier(WORKERS)
positions, errors = [], []
queue = list(people)
lock = threading.Lock()
def go():
    try:
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                p = queue.pop()
            try:
                positions.append(r.allocation_assign(participant=p, by=nurse).slot.position)
            except Exception as e:
                errors.append(repr(e)[:200])
    finally:
        connection.close()
threads = [threading.Thread(target=go) for _ in range(WORKERS)]
start = time.perf_counter()
[th.start() for th in threads]; [th.join() for th in threads]
wall = time.perf_counter() - start
allp = sorted(before | set(positions))
print(json.dumps({"allocations": len(positions), "threads": WORKERS, "errors": len(errors), "error_kinds": sorted(set(errors))[:3], "per_second": round(len(positions)/wall, 1),
    "duplicates": len(positions) - len(set(positions)),
    "gaps": (allp[-1] - allp[0] + 1 - len(allp)) if allp else 0}))
"""
)

DSMB = r"""
import json, time
from django.contrib.auth import get_user_model
from django.test import Client
from analysis import services
from analysis.tasks import compute_analysis
dsmb = get_user_model().objects.get(username="dsmb")
from analysis.models import AnalysisRun
run = AnalysisRun.objects.create(kind="closed", population="completers", requested_by=dsmb)
start = time.perf_counter(); compute_analysis(run.pk); cold = time.perf_counter() - start
c = Client(); c.force_login(dsmb)
assert c.get("/dsmb/").status_code == 200
start = time.perf_counter()
for _ in range(10):
    assert c.get("/dsmb/").status_code == 200
warm = (time.perf_counter() - start) / 10
print(json.dumps({"cold_seconds": round(cold, 2), "warm_page_ms": round(warm * 1000, 1)}))
"""


def print_table(results: dict) -> None:
    for n, size in results["sizes"].items():
        log(f"\nN = {n} participants (loaded in {size['load_seconds']} s)")
        log(
            f"{'page':28} {'clients':>7} {'median ms':>10} {'p95 ms':>8} {'req/s':>7} "
            f"{'x floor':>8} {'errors':>6}"
        )
        for row in size["pages"]:
            log(
                f"{row['page']:28} {row['clients']:>7} {row['median_ms']:>10} {row['p95_ms']:>8} "
                f"{row['throughput_rps']:>7} {row['ratio_to_floor']:>8} {row['errors']:>6}"
            )
        log(f"SQL queries per page: {size['queries_per_page']}")
        log(f"200 concurrent randomizations: {size['randomization_race']}")
        log(f"DSMB analysis: {size['dsmb_analysis']}")
    if len(results["sizes"]) > 1:
        same = "yes" if results["queries_equal_across_sizes"] else "NO"
        log(f"\nSQL queries per page equal at every size: {same}")


def readme_table(results: dict) -> str:
    """The README's benchmark section, in Markdown, from a results file."""
    machine = results["machine"]
    lines = [
        f"Latest run ({results['started'][:10]}, `bench/results/latest.json`): PostgreSQL and "
        f"gunicorn on loopback; {machine['cpus']} cores, {machine['platform']}, "
        f"Python {machine['python']}. Ratios are medians against the floor of the same method "
        "(GET: a bare Django view; POST: a view that inserts one row), measured in the same run.",
        "",
    ]
    for n, size in results["sizes"].items():
        lines += [
            f"**N = {int(n):,}** participants with all visits and questionnaires, loaded "
            f"through `import_trial_data` in {size['load_seconds']} s.",
            "",
            "| page | clients | median ms | p95 ms | req/s | × floor | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['page']} | {r['clients']} | {r['median_ms']} | {r['p95_ms']} | "
            f"{r['throughput_rps']} | {r['ratio_to_floor']} | {r['errors']} |"
            for r in size["pages"]
        ]
        race, dsmb = size["randomization_race"], size["dsmb_analysis"]
        queries = ", ".join(f"{page} {count}" for page, count in size["queries_per_page"].items())
        lines += [
            "",
            f"- SQL queries per page: {queries}.",
            f"- {race['allocations']} randomizations at once ({race['threads']} threads): "
            f"{race['per_second']} allocations/s, {race['duplicates']} duplicates, "
            f"{race['gaps']} gaps, {race['errors']} errors.",
            f"- DSMB analysis: {dsmb['cold_seconds']} s cold (the Celery task), "
            f"{dsmb['warm_page_ms']} ms warm (the dashboard from the stored result).",
            "",
        ]
    if "queries_equal_across_sizes" in results and len(results["sizes"]) > 1:
        same = "equal" if results["queries_equal_across_sizes"] else "NOT equal"
        lines.append(f"SQL queries per page are {same} at every size.")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        print(readme_table(json.loads((RESULTS / "latest.json").read_text())))
    else:
        main()
