"""Test and doctest set-up: read the public data from ../shared/data when it is there.

``SWJAX_TEST_DEVICE`` picks where the tests run: ``cpu`` hides every accelerator
(``JAX_PLATFORMS=cpu``); ``gpu`` requires a GPU, makes it JAX's default device (the engine's
``device="auto"`` picks it too) and stops at once when there is none, so that a passing run is a
GPU run; unset, JAX's own choice. Tests marked ``gpu`` need a GPU and are skipped without one.
"""

import os
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"
if "SWJAX_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["SWJAX_DATA_DIR"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")

# One JAX compilation cache for the whole test run: both passes (`pytest`, then `pytest -m
# slow`) and the processes the tests start compile many of the same programs, and on 2 CPU cores
# compiling is most of a test's time. The cache is keyed by the compiled program itself, so a
# test that patches swjax's code compiles its own. SWJAX_TEST_COMPILE_CACHE=DIR puts it
# elsewhere, SWJAX_TEST_COMPILE_CACHE=0 turns it off; an inherited JAX_COMPILATION_CACHE_DIR wins.
_XLA_CACHE = os.environ.get("SWJAX_TEST_COMPILE_CACHE", "").strip()
if _XLA_CACHE != "0":
    import tempfile

    _user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", _XLA_CACHE or str(Path(tempfile.gettempdir()) / f"swjax-tests-xla-{_user}"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

_DEVICE = os.environ.get("SWJAX_TEST_DEVICE", "").strip().lower()
if _DEVICE not in ("", "auto", "cpu", "gpu"):
    raise pytest.UsageError(f"SWJAX_TEST_DEVICE: expected 'cpu' or 'gpu', got {_DEVICE!r}")
if _DEVICE == "cpu":
    os.environ["JAX_PLATFORMS"] = "cpu"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Where pytest-xdist is installed (the ``test`` extra), the whole default suite (``python -m
    pytest``: no paths, no ``-m``) runs in one process per CPU core, at most 4: on 2 cores most
    of its time is compiling, one program per core. ``-n N`` or ``SWJAX_TEST_WORKERS=N`` (1: one
    process) decides instead, for any run. The slow pass (``-m slow``), a run of chosen tests, a
    GPU run (``SWJAX_TEST_DEVICE=gpu``: each process would claim most of the GPU's memory) and a
    debugger session otherwise stay in one process."""
    if getattr(config.option, "numprocesses", "absent") is not None or hasattr(config, "workerinput"):
        return  # -n given, xdist not installed or turned off (-p no:xdist), or this is a worker
    if config.getoption("collectonly") or config.getoption("usepdb", False):
        return
    given = os.environ.get("SWJAX_TEST_WORKERS", "").strip()
    if given:
        if not given.isdigit():
            raise pytest.UsageError(f"SWJAX_TEST_WORKERS: expected a number of processes, got {given!r}")
        workers = int(given)
    else:
        whole = getattr(getattr(config, "args_source", None), "name", "") == "TESTPATHS"  # no paths given
        default_pass = whole and (config.getoption("markexpr") or "") == "not slow"
        workers = min(os.cpu_count() or 1, 4) if default_pass and _DEVICE != "gpu" else 1
    if workers > 1:
        config.option.numprocesses = workers


def _gpus():
    import jax

    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def pytest_configure(config):
    # In this process tests patch swjax's functions: trace every kernel rather than load one
    # lowered before a patch (the processes the tests start, which patch nothing, keep it).
    from swjax.engine import cache

    cache.PROGRAMS_ON_DISK = False
    if _DEVICE == "gpu":
        gpus = _gpus()
        if not gpus:
            raise pytest.UsageError("SWJAX_TEST_DEVICE=gpu, but JAX sees no GPU")
        import jax

        jax.config.update("jax_default_device", gpus[0])


def pytest_report_header(config):
    import jax

    return f"swjax test device: {_DEVICE or 'auto'}; JAX default device {jax.devices()[0]}"


def pytest_collection_modifyitems(config, items):
    _check_slow_list(items)
    marked = [item for item in items if item.get_closest_marker("gpu") is not None]
    if marked and not _gpus():
        skip = pytest.mark.skip(reason="needs a GPU (JAX sees none)")
        for item in marked:
            item.add_marker(skip)


#: Compile-heavy checks moved out of the default suite (which stays short on 2 cores) into the
#: slow pass that CI runs after it (``pytest -m slow``): each of these takes 4-20 s here, and its
#: area keeps a quicker check in the default suite. Test functions (every parameter) and doctests.
SLOW = {
    # 15 s: an imputed bootstrap compiled just to show that it runs below the validated share
    "tests/test_impute.py::test_intervals_given_below_the_validated_share_and_estimates_above",
    # 10 s: a coverage study compiled for a design with capability targets
    "tests/test_simulate.py::test_coverage_reports_capability_targets_beside_the_safety_benchmarks",
    # 4-6 s each in the default pass (a report built; an irt fit compiled on a sparse matrix)
    "tests/test_scores_everywhere.py::test_report_names_the_measure_in_its_title_and_methods",
    "tests/test_scores.py::test_irt_sparse_matrix_matches_scipy",
    "tests/test_scores_everywhere.py::test_lobo_mean_z_is_analyze_with_and_without_each_capability",
    "tests/test_scores_everywhere.py::test_subsets_mean_z_every_subset_is_analyze_on_it",
    "tests/test_scores_everywhere.py::test_compare_single_benchmark_is_the_bootstraps_interval_under_mean_z",
    "tests/test_scores_everywhere.py::test_compare_between_estimates_are_analyze_under_mean_z",
    "tests/test_scores_everywhere.py::test_correlate_estimate_is_analyze_on_the_combined_data",
    "tests/test_scores_everywhere.py::test_adjust_fits_on_the_mean_z_score",
    "tests/test_scores_everywhere.py::test_adjust_under_compute_leaves_out_models_without_flop",
    "tests/test_scores_everywhere.py::test_leave_one_family_out_under_mean_z_is_analyze_without_the_family",
    "tests/test_scores_everywhere.py::test_family_bootstrap_passes_the_measure_to_both_bootstraps",
    "tests/test_scores_everywhere.py::test_cli_lobo_and_compare_name_a_non_default_measure",
    "tests/test_same_bits.py::test_numbers_as_before_everywhere_else",
    "tests/test_pc1.py::test_a_pc1_orthogonal_to_its_reference_takes_the_released_rule",
    "tests/test_engine_run.py::test_rows_then_draws_with_and_without_a_sink",
    "tests/test_engine_run.py::test_a_run_returns_what_it_decided",
    "tests/test_data_folder.py::test_the_example_benchmark_matches_every_chat_model",
    "tests/test_cli_options.py::test_coverage_options_reach_the_design",
    "tests/test_cli_options.py::test_plot_forest_with_a_list_of_benchmarks_and_subsets_sampled",
    "tests/test_cli_options.py::test_adjust_linear_partial_and_plot",
    "tests/test_differential.py::test_compiled_statistic_matches_reference",
    "tests/test_differential.py::test_sign_rule_when_largest_loadings_tie",
    "tests/test_sensitivity.py::test_resampled_masks_equal_resample_per_mask",
    "tests/test_sensitivity.py::test_lobo_full_variant_has_the_bootstraps_interval_by_default",
    "tests/test_sensitivity.py::test_subsets_and_lobo_give_the_numbers_of_the_path_before_the_fast_one",
    "tests/test_correlate.py::test_dataframe_input_and_api_export",
    "tests/test_report.py::test_build_report_with_new_benchmark",
    "tests/test_check.py::test_exit_0_when_nothing_entangled",
    "tests/test_bootstrap.py::test_degenerate_resamples_are_counted_not_fatal",
    "tests/test_bootstrap.py::test_same_seed_same_numbers_for_every_batch_size",
    "tests/test_bootstrap.py::test_float32_and_float64_distributions_agree",
    "tests/test_bootstrap.py::test_permutation_pvalues_equal_a_plain_loop",
    "tests/test_figures.py::test_cli_plot",
    "tests/test_impute.py::test_no_missing_cells_is_the_released_analysis",
    "tests/test_impute.py::test_imputed_statistic_equals_reference_on_repeated_rows",
    "tests/test_simulate.py::test_monotone_transform_of_a_safety_benchmark",
    "tests/test_cli.py::test_bootstrap_writes_all_files",
    "tests/test_analysis.py::test_float32_within_1e5_of_float64",
    "tests/test_analysis.py::test_random_matrices_with_ties_and_nans_match_reference",
    "tests/test_cluster_intervals.py::test_jackknife_t_over_families_equals_a_plain_loop_float64",
    "tests/test_tables.py::test_lobo_with_resamples_shows_its_intervals",
    "tests/test_coverage.py::test_stacked_evaluate_equals_per_dataset",
    "tests/test_cli_start.py::test_a_command_fills_the_compilation_cache",
    "tests/test_pairs.py::test_pair_route_equals_rank_route_exactly",
    "tests/test_adjust.py::test_score_dtype_float32_close_to_float64",
    "tests/test_adjust.py::test_monotone_transform_changes_nothing",
    "tests/test_compare.py::test_a_single_benchmark_has_the_bootstraps_interval_by_default",
    "tests/test_memory.py::test_summary_blocks_do_not_change_the_numbers",
    "tests/test_cluster_intervals.py::test_cli_families_default_is_cluster_t_and_says_why",
    "tests/test_importers.py::test_import_folder_is_accepted_by_analysis_commands",
    "tests/test_figures.py::test_spec_curve_from_subsets",
    "swjax/compare.py::swjax.compare.compare_between",
    "swjax/coverage.py::swjax.coverage.coverage",
    "swjax/plan.py::swjax.plan.plan",
    "swjax/correlate.py::swjax.correlate.correlate",
    "swjax/adjust.py::swjax.adjust.adjust",
    "swjax/bootstrap.py::swjax.bootstrap.BootstrapResult.select",
    # the default suite had grown to 7.8 minutes with this release's tests (quiet 2 cores):
    "tests/test_impute.py::test_imputed_capabilities_are_ranked_at_the_datas_precision",
    "tests/test_ranks.py::test_exclusive_cumsum_and_target_ranks_against_plain_numpy",
    "tests/test_impute.py::test_cli_impute_with_families_keeps_every_model",
    "tests/test_no_interval.py::test_few_families_get_no_interval",
    "tests/test_adjust.py::test_cli",
    "tests/test_compare.py::test_cli_commands",
    "tests/test_cluster_intervals.py::test_compare_with_families_defaults_to_cluster_t",
    "tests/test_cluster_intervals.py::test_jackknife_t_over_models_equals_a_plain_loop_float64",
    "tests/test_tables.py::test_any_result_frame_fits_the_width_and_says_what_it_left_out",
    "tests/test_tables.py::test_bootstrap_csv_has_the_summary_rows_and_parquet_the_same_frame",
    "tests/test_sensitivity.py::test_summaries_definitions",
    "tests/test_sensitivity.py::test_the_full_sets_interval_is_the_bootstraps",
    "tests/test_sensitivity.py::test_subsets_bootstrap_keeps_two_spreads_apart",
    "tests/test_cli.py::test_analyze_csv_is_tidy",
    "tests/test_cli.py::test_all_nan_and_constant_benchmarks_are_dropped_with_a_warning",
    "tests/test_cli.py::test_hash_mismatch_of_a_dataset_file",
    "tests/test_analysis.py::test_every_published_figure_float64",
    "tests/test_analysis.py::test_second_call_with_same_shapes_does_not_recompile",
    "tests/test_display.py::test_compare_and_lobo_reprs",
    "tests/test_cli_start.py::test_a_finished_command_leaves_with_its_output_and_exit_code",
    "tests/test_bootstrap.py::test_no_recompile_on_second_run",
    "tests/test_coverage.py::test_second_call_does_not_recompile",
    "tests/test_figures.py::test_forest_title_and_axes_inside_the_canvas",
    "tests/test_simulate.py::test_host_pipeline_equals_swjax",
    "tests/test_provenance.py::test_models_used_are_those_with_every_capability_score",
    "tests/test_profile_trace.py::test_summary_of_a_real_cpu_trace",
    "tests/test_compare.py::test_the_p_value_agrees_with_the_interval",
    "tests/test_sensitivity.py::test_lobo_equals_analyze_without_that_benchmark",
    "tests/test_families.py::test_leave_one_family_out_equals_analyze_without_it",
    "tests/test_cli.py::test_model_missing_a_capability_is_left_out_with_a_warning",
    "tests/test_display.py::test_analysis_n_models_is_the_number_of_models",
    # the default suite took 7.8 minutes on a clean clone (quiet 2 cores, empty compilation
    # cache): checks of 4-18 s each that start a command in a pseudo-terminal or a browser, or
    # compile a program that no other check of the default suite needs
    "tests/test_measurement.py::test_a_resample_is_the_reference_on_its_perturbed_copy_and_weights",
    "tests/test_terminal.py::test_bootstrap_in_a_real_terminal",
    "tests/test_report.py::test_report_fits_the_page",
    "tests/test_no_interval.py::test_se_is_the_standard_error_of_the_interval_shown",
    "tests/test_limits.py::test_against_a_column_beyond_float32",
    "tests/test_names.py::test_display_names_are_accepted_wherever_ids_are",
    "tests/test_analysis.py::test_monotone_transform_of_a_capability_keeps_the_spearman_matrix",
    "tests/test_no_interval.py::test_cli_csv_json_and_table",
    "swjax/sensitivity.py::swjax.sensitivity.lobo",
    "swjax/sensitivity.py::swjax.sensitivity.subsets",
    # the documentation's examples that take more than ~3 s (marked <!-- slow --> in the pages)
    "tests/test_docs_examples.py::test_slow_blocks",
    # Each capability measure compiles its own program per dtype and shape (5-20 s apiece).
    "tests/test_scores.py::test_public_sets_match_reference",
    "tests/test_scores.py::test_paper_is_the_default_bit_for_bit",
    "tests/test_scores.py::test_pearson_reports_its_own_matrix",
    "tests/test_scores.py::test_weighted_rows_match_reference_compiled_and_not",
    "tests/test_scores.py::test_irt_with_missing_capability_scores_through_the_api",
    "tests/test_scores.py::test_bootstrap_runs_with_each_measure",
    "tests/test_scores.py::test_capability_masks_leave_benchmarks_out_of_the_measure",
    # 6-7 s each: a bootstrap with permutations of a merged benchbench population (also marked slow)
    "tests/test_benchbench.py::test_merged_safety_and_capabilities_atlas_against_an_independent_computation",
    "tests/test_benchbench.py::test_cli_airbench_direction_given_and_the_report_written",
}


_COLLECTED: set[str] = set()


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item):
    name = item.nodeid.split("[")[0]
    _COLLECTED.add(name)
    if name in SLOW:
        item.add_marker(pytest.mark.slow)


def _check_slow_list(items):
    if len(_COLLECTED) > 300 and SLOW - _COLLECTED:  # a whole-suite run: every name still names a test
        raise pytest.UsageError(f"conftest.SLOW names tests that do not exist: {sorted(SLOW - _COLLECTED)}")
