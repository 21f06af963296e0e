"""The catalog function ships as a small zip: it must not load the model libraries."""

import subprocess
import sys
from pathlib import Path


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(output.split())


def test_catalog_function_imports_no_numpy_shap_or_model_library():
    assert not imported_after("functions.handlers.catalog") & {"numpy", "shap", "lightgbm", "sklearn", "explainers"}


def test_customer_function_imports_no_numpy_shap_or_model_library():
    # It ships as the same small zip as the catalog (make build-CustomerFunction).
    assert not imported_after("functions.handlers.customer") & {"numpy", "shap", "lightgbm", "sklearn", "explainers"}


def test_decision_function_does_not_import_shap_at_cold_start():
    # Exact paths use LightGBM's native contributions and closed-form linear SHAP; shap is for black boxes.
    assert "shap" not in imported_after("functions.handlers.decisions")


def test_integrity_job_imports_no_numpy_shap_or_model_library():
    # It ships as a small zip too (make build-IntegrityFunction).
    assert not imported_after("functions.handlers.integrity") & {"numpy", "shap", "lightgbm", "sklearn", "explainers"}


MAKEFILE = (Path(__file__).resolve().parents[3] / "Makefile").read_text()


def _recipe(target: str) -> str:
    """The lines of a Makefile target (what `sam build` runs for a makefile-built function)."""
    return MAKEFILE.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]


def test_babel_ships_in_the_small_zips_whose_code_imports_it():
    # The customer page formats numbers and dates with Babel; the customer function reuses the catalog's zip.
    assert "babel" in imported_after("functions.handlers.customer")
    assert "\nbuild-CustomerFunction: build-CatalogFunction\n" in MAKEFILE
    assert '"babel' in _recipe("build-CatalogFunction")
    # The integrity job's zip does not ship it: it must not need it.
    assert "babel" not in imported_after("functions.handlers.integrity")
    assert "babel" not in _recipe("build-IntegrityFunction")


def test_rollup_function_imports_no_numpy_shap_model_library_or_babel():
    # It ships as the integrity job's small zip (make build-RollupFunction), which has no babel.
    imported = imported_after("functions.handlers.rollups")
    assert not imported & {"numpy", "shap", "lightgbm", "sklearn", "explainers", "babel"}
    assert "\nbuild-RollupFunction: build-IntegrityFunction\n" in MAKEFILE


def test_jinja2_ships_in_the_small_zip_but_loads_only_when_a_page_is_rendered():
    # The customer and audit functions render pages from templates; their cold start does without Jinja2.
    assert '"jinja2' in _recipe("build-CatalogFunction")
    for handler in ("functions.handlers.customer", "functions.handlers.audit"):
        assert not imported_after(handler) & {"jinja2", "markupsafe"}
    assert "babel" not in imported_after("functions.handlers.audit")  # the report page formats lazily too
    assert "jinja2" not in imported_after("functions.handlers.integrity")


def test_monitoring_job_imports_no_numpy_shap_model_library_babel_or_jinja2():
    # It ships as the integrity job's small zip plus the manifests (make build-MonitoringFunction).
    imported = imported_after("functions.handlers.monitoring")
    assert not imported & {"numpy", "shap", "lightgbm", "sklearn", "explainers", "babel", "jinja2"}
    assert "\nbuild-MonitoringFunction: build-IntegrityFunction\n" in MAKEFILE
    assert "manifest.json" in _recipe("build-MonitoringFunction")
