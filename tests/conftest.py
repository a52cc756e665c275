"""Shared fixtures: an isolated cache, MLflow store and plugin manager per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _session_sandbox(tmp_path_factory):
    """Module- and session-scoped fixtures run before the per-test isolation below: give them a sandbox too,
    so nothing (an MLflow store, ``./mlruns`` artifacts, a cache) is ever written into the checkout."""
    import os

    root = tmp_path_factory.mktemp("session")
    saved_cwd, saved_env = os.getcwd(), {k: os.environ.get(k) for k in ("SIGNSPOT_CACHE_DIR", "MLFLOW_TRACKING_URI")}
    os.environ["SIGNSPOT_CACHE_DIR"] = str(root / "cache")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.chdir(root)
    yield root
    os.chdir(saved_cwd)
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own cache dir, MLflow store and working dir, and a fresh plugin manager."""
    monkeypatch.setenv("SIGNSPOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    from benchmark import plugins

    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


def make_distribution(
    root: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write an installed-looking distribution (a real ``*.dist-info`` with entry points) under ``root``.

    Adding ``root`` to ``sys.path`` makes ``importlib.metadata`` discover it exactly as it discovers a pip
    install, without touching the shared environment.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[signspot.plugins]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        path = root / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A folder on sys.path where tests install distributions with ``make_distribution``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in list(sys.modules):
        if name.startswith("tp_"):
            del sys.modules[name]
