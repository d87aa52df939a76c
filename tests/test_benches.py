"""The benchmarks still run and print one JSON line (small sizes; timings are not asserted)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policies.document import ContentCategory

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_registry_bench_times_each_route_and_every_call_succeeds():
    # The bench stops with an error on any answer but 200: a revoke that failed fails here.
    report = _run("bench/registry.py", "--assets", "300", "--lookups", "100")
    routes = (
        "GET /v1/assets/{id}",
        "GET /v1/assets/{id}/policy",
        "GET /v1/grants/{id}",
        "POST /v1/grants/{id}/revoke",
    )
    for backend in ("sqlite", "postgresql"):
        if report[backend] is None:
            continue
        for route in routes:
            assert report[backend][route]["n"] == 100
            assert 0 < report[backend][route]["p50_ms"] <= report[backend][route]["p99_ms"]


def test_audit_bench_checks_checkpoints_on_a_seeded_chain_that_verifies():
    # The bench stops with an error if a check is not consistent or the seeded chain is broken.
    report = _run("bench/audit.py", "--entries", "500", "--checks", "20")
    for backend in ("sqlite", "postgresql"):
        if report[backend] is None:
            continue
        assert report[backend]["entries_walked"] == 502
        check = report[backend]["checkpoint_check"]
        assert check["n"] == 20 and 0 < check["p50_ms"] <= check["p99_ms"]


def test_changes_bench_hears_every_change():
    report = _run("bench/changes.py", "--rounds", "20")
    if report.get("postgresql", True) is None:
        return
    delays = report["heard_after_commit_ms"]
    assert report["rounds"] == 20 and 0 <= delays["p50"] <= delays["p99"] <= delays["max"]


def test_evaluator_bench_decides_realistic_requests_with_every_outcome():
    report = _run("bench/evaluator.py", "--seconds", "0.2")
    assert report["decisions"] >= 500
    assert sum(report["outcomes"].values()) == report["decisions"]
    assert set(report["outcomes"]) == {"cleared", "denied", "needs_approval"}
    assert 1 <= report["assets_per_decision"] <= 5
    assert report["decisions_per_second"] > 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_api_bench_reads_are_authenticated_successes():
    report = _run("bench/api.py", "--databases", "sqlite", "--duration", "1", "--no-scans")
    for route in ("get_asset", "get_asset_api_key", "healthz"):
        result = report["sqlite"][route]
        assert result["requests"] > 0
        assert result["not_2xx"] == 0 and result["socket_errors"] == 0
        assert 0 < result["p50_ms"] <= result["p99_ms"]
        assert result["cpu_ms_per_request"] > 0


def test_likeness_bench_exact_search_finds_every_match_above_the_threshold():
    report = _run("bench/likeness.py", "--quick")
    (size,) = report["sizes"]
    assert size["templates"] == 10_000
    assert size["queries"] >= 3_000
    # The generated faces look like dlib's: impostors near 0.82, every query a true match.
    assert 0.80 <= size["similarity"]["impostor"]["p50"] <= 0.84
    assert size["similarity"]["genuine_best"]["p1"] >= report["threshold"]
    assert size["queries_with_impostor_above_threshold"] > 0
    exact, approximate = size["exact_numpy"], size["approximate_faiss"]
    assert exact["required_matches"] > size["queries"]
    assert exact["recall_at_5"] == 1.0
    assert exact["queries_complete"] == 1.0
    assert approximate["required_matches"] == exact["required_matches"]
    assert 0.99 <= approximate["recall_at_5"] <= 1.0
    assert 0 < approximate["nprobe"] <= approximate["nlist"]
    assert exact["memory_ratio"] <= 1.2
    assert report["scan_640x480_dlib_ms"]["faces"] == 1


def test_image_matching_bench_reports_rates_per_edit_and_latency():
    report = _run("bench/image_matching.py", "--quick")
    quality, latency = report["quality"], report["latency"]
    assert quality["seeds"] == [17] and quality["negatives_per_seed"] == 300
    for edit in ("near_duplicate", "crop_80", "grayscale", "hue_shift_90", "jpeg_q40"):
        assert quality["found"][edit] >= 0.95
    assert quality["false_positive_rate"] <= 0.01
    assert latency["references"] == 3_000
    assert latency["index_bytes_per_reference"] < 4_000
    for timing in (latency["search"], latency["decode_fingerprint_and_search_jpeg"]):
        assert 0 < timing["p50_ms"] <= timing["p99_ms"]
    # Half the lookups are edited copies of indexed pictures, half unrelated pictures.
    assert latency["edited_copies_found"] >= 0.5
    assert latency["unrelated_pictures_matching"] <= 0.02


def test_clearance_bench_reports_the_text_checks_rates_and_times():
    # Also clearances under load (wrk against a live server) and the evaluator.
    report = _run("bench/clearance.py", "--quick")
    assert report["assets"] == 300
    assert report["machine"]["cores"] >= 1 and report["machine"]["reference_ms"] > 0
    categories = {
        *("disguised", "paraphrase", "keywords", "description"),
        *("ordinary", "near_miss", "unregistered"),
    }
    for catalogue in ("rates_quality_set_alone", "rates_among_300_assets"):
        for split in ("held_out", "development"):
            rates = report[catalogue][split]
            assert set(rates) == categories
            assert all(rate["prompts"] > 30 for rate in rates.values())
            assert all(0 <= rate.get("found", rate.get("flagged")) <= 1 for rate in rates.values())
    # The held-out targets the quality tests assert (tests/rights/matching/test_quality.py).
    held_out = report["rates_quality_set_alone"]["held_out"]
    assert held_out["disguised"]["found"] >= 0.99
    assert held_out["ordinary"]["flagged"] <= 0.01
    content = report["content_categories"]
    for split in ("held_out", "development"):
        assert set(content[split]) == {*(c.value for c in ContentCategory), "none"}
        assert content[split]["none"]["ordinary"]["prompts"] > 150
        for short in (content["short"][split], content["short_named"][split]):
            assert set(short) == {*(c.value for c in ContentCategory), "none"}
            assert short["none"]["ordinary"]["prompts"] > 100
    assert 0 < content["check_per_prompt"]["p50_ms"] <= content["check_per_prompt"]["p99_ms"]
    limits = report["restrictions"]
    for split in ("held_out", "development"):
        assert limits[split]["breaking"]["prompts"] > 100
        assert limits[split]["respecting"]["prompts"] > 100
        assert 0 <= limits[split]["breaking"]["denied"] <= 1
    assert limits["breaking_denied_at_least"] == 0.9
    assert limits["respecting_denied_at_most"] == 0.03
    assert 0 < limits["check_per_prompt"]["p50_ms"] <= limits["check_per_prompt"]["p99_ms"]
    timing = report["text_match"]
    assert timing["n"] == 100 and 0 < timing["p50_ms"] <= timing["p99_ms"]
    assert timing["matches_per_s"] > 0
    embedding = timing["of_which_prompt_embedding"]
    assert 0 < embedding["p50_ms"] <= embedding["p99_ms"]
    assert report["evaluator"]["decisions_per_second"] > 0
    clearances = report["clearances"]
    if shutil.which("wrk") is None:
        assert "skipped" in clearances
        return
    for backend in ("sqlite", "postgresql"):
        if clearances[backend] is None:
            continue
        for load in ("open", "paced"):
            run = clearances[backend][load]
            answered = sum(run["answers"].values())
            assert set(run["answers"]) == {"201"} and run["socket_errors"] == 0
            recorded = run["recorded"]
            outcomes = sum(recorded.get(o, 0) for o in ("cleared", "denied", "needs_approval"))
            # Every answered clearance is recorded; so are those wrk left in flight at the end.
            assert answered <= outcomes <= answered + run["connections"]
            assert recorded["cleared"] > 0 and recorded["denied"] > 0
            assert run["cpu_ms_per_clearance"] > 0
        paced = clearances[backend]["paced"]["latency_from_due"]
        assert 0 < paced["p50_ms"] <= paced["p99_ms"]


def test_generation_bench_times_the_checks_and_the_generation_of_a_clip():
    report = _run("bench/generation.py", "--quick")
    tiny = report["tiny_cpu"]
    assert tiny["clip"]["frames"] == 4  # half a second at 8 frames a second
    assert tiny["device"] == "cpu" and tiny["output_verdict"] == "release_allowed"
    assert tiny["generation_s"] > 0 and tiny["clearance_ms"] > 0 and tiny["output_check_ms"] > 0
    checks_s = (tiny["clearance_ms"] + tiny["output_check_ms"]) / 1000
    assert tiny["checks_share"] == pytest.approx(checks_s / tiny["generation_s"], rel=1e-3)
    assert (report["full_size_cuda"] is None) == (
        report["targets_met"]["full_size_cuda_checks_share"] is None
    )


def test_gpu_generation_bench_runs_and_says_when_there_is_no_gpu():
    report = _run("bench/generation_gpu.py")
    assert report["bench"] == "generation_gpu"
    assert report["clip"] == {"frames": 40, "fps": 8, "side": 512, "steps": 20}
    assert report["gpu"] is None and report["rows"] is None


def test_ledger_bench_posts_every_usage_and_the_ledger_holds_after():
    # The bench stops with an error if any cached balance is not its legs afterwards.
    report = _run(
        "bench/ledger.py",
        "--usages",
        "200",
        "--batch",
        "50",
        "--creators",
        "20",
        "--holders",
        "20",
        "--statement-uses",
        "1100",
    )
    assert report["machine"]["reference_ms"] > 0
    # The statement closes at the payable's cached balance, or the bench stops with an error.
    if report["statement"] is not None:
        assert report["statement"]["uses"] == 1100
        assert report["statement_1k_s"] == report["statement"]["json_s"] > 0
    for backend in ("sqlite", "postgresql"):
        if report[backend] is None:
            continue
        assert 2 <= report[backend]["legs_per_entry"] <= 5
        single = report[backend]["one_per_transaction"]
        assert single["entries"] == 200 and single["transaction"]["n"] == 200
        batched = report[backend]["50_per_transaction"]
        assert batched["entries"] == 200 and batched["transaction"]["n"] == 4
        assert single["entries_per_second"] > 0 and batched["entries_per_second"] > 0
        # Posted from several threads at once, each transaction on its own.
        assert (single["workers"], batched["workers"]) == (8, 2)
        assert single["cpu_us_per_entry"]["client"] > 0
        assert (single["cpu_us_per_entry"]["server"] is None) == (backend == "sqlite")
    if report["postgresql"] is not None:
        # The plain psycopg baseline posted the same usages, one a transaction and 50 a transaction.
        baseline = report["postgresql"]["baseline"]
        assert baseline["one_per_transaction"]["entries"] == 200
        assert baseline["50_per_transaction"]["entries"] == 200
        rates = report["postgresql"]["baseline_entries_per_second"]
        assert rates["one_per_transaction"] > 0 and rates["50_per_transaction"] > 0


def test_scale_index_bench_times_every_shard_count_against_one_exact_scan():
    # The bench stops with an error if a sharded answer differs from the exact scan's.
    report = _run(
        "bench/scale_index.py", "--templates", "3000", "--queries", "20", "--shards", "1,2"
    )
    assert report["templates"] == 3000 and report["matched_queries"] == 20
    assert set(report["shards"]) == {"1", "2"}
    for count, figures in report["shards"].items():
        assert sum(figures["templates_per_shard"]) == 3000
        assert len(figures["index_bytes_per_shard"]) == int(count)
        assert 0 < figures["query_ms"]["p50"] <= figures["query_ms"]["p99"]
        # Held to the exact scan on as many cores as the shards run on.
        same_cores = report["exact_in_process"]["query_ms_by_blas_threads"]["1"]
        if count == "1":
            assert figures["p99_over_exact_p99_same_cores"] == pytest.approx(
                figures["query_ms"]["p99"] / same_cores["p99"], abs=1e-3
            )
        assert figures["target_met"] == (figures["p99_over_exact_p99_same_cores"] <= 1.3)


def test_scale_bench_scans_clears_and_checks_frames_on_ray_scan_actors():
    # The bench stops with an error on any answer but 200/201 or 503, and on a scan that did
    # not name the enrolled face, a clearance that was not denied or a frame without its face.
    # Two actors only (a server start costs seconds): the frames spread over both.
    report = _run("bench/scale.py", "--seconds", "0.5", "--clients", "2", "--actors", "2")
    assert report["bench"] == "scale" and report["ray_cpus"] == 2
    for load in ("scans", "clearances"):
        figures = report["actors_2"][load]
        assert set(figures) == {"answered", "busy_503", "per_s", "server_cpu_ms_per_answer"}
        assert figures["per_s"] == figures["answered"] / 0.5
    assert set(report["actors_2"]["check_frames"]) == {"checks", "frames_per_s", "actor_cores"}
    assert "actors_1" not in report
    assert report["ratio_2_to_1"] is None and report["targets_met"] is None
    assert report["index"]["templates"] == 3000 and set(report["index"]["shards"]) == {"1", "2"}
    assert report["machine"]["cores"] >= 1


def test_clip_embeddings_bench_times_the_tiny_model_and_the_search():
    report = _run("bench/clip_embeddings.py", "--quick")
    [(name, model)] = report["models"].items()
    assert name == "tiny" and model["dimension"] == 16
    assert 0 < model["embed_png_256px"]["p50_ms"] <= model["embed_png_256px"]["p99_ms"]
    search = report["search"]
    assert (search["references"], search["dimension"]) == (3_000, 16)
    for timing in (search["fingerprint_only"], search["with_embedding"]):
        assert 0 < timing["p50_ms"] <= timing["p99_ms"]
