"""The page ships inside the package, light and self-contained (no CDN, works offline)."""

from __future__ import annotations

import re

from alphapulse_cli.dashboard.server import TYPES, asset

FILES = ("index.html", "app.js", "style.css")


def test_page_assets_ship_and_stay_light() -> None:
    sizes = {}
    for name in FILES:
        data = asset(name)
        assert data is not None, name
        sizes[name] = len(data)
        text = data.decode()
        # Nothing fetched from elsewhere: every src/href is a path on this server.
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name
        assert "https://" not in text, name
    assert sum(sizes.values()) <= 300_000
    assert {n[n.rfind(".") :] for n in FILES} <= set(TYPES)


def test_asset_refuses_paths_outside_the_page() -> None:
    assert asset("../server.py") is None
    assert asset(".hidden") is None
    assert asset("missing.js") is None
