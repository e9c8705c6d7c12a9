"""Forest plots: valid, deterministic SVG and PNG with one square per study."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from cllcds.domain import InputError
from cllcds.evidence._forest import PlotFormat, forest_plot
from cllcds.evidence._meta import PoolResult, PredictionInterval, StudyData, TauMethod, pool
from cllcds.evidence._transforms import Transform

pytest.importorskip("matplotlib")

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Review Table 1 (monotherapy), overall response as counts (Stilgenbauer approximate).
TABLE1 = [
    StudyData("Osterborg 1997", 12, 29),
    StudyData("Rai 2002", 8, 24),
    StudyData("Keating 2002", 31, 93),
    StudyData("McCune 2002", 9, 17),
    StudyData("Ferrajoli 2003", 13, 42),
    StudyData("Lozanski 2004", 10, 36),
    StudyData("Stilgenbauer 2004", 18, 50),
    StudyData("Moreton 2005", 49, 91),
    StudyData("Cortelezzi 2005", 8, 16),
]


@pytest.fixture(scope="module")
def table1() -> PoolResult:
    return pool(TABLE1)


def _svg(data: bytes) -> tuple[ET.Element, list[str]]:
    """The SVG tree and its comments (matplotlib writes each drawn text as a comment)."""
    builder = ET.TreeBuilder(insert_comments=True)
    parser = ET.XMLParser(target=builder)
    parser.feed(data)
    root = parser.close()
    comments = [str(el.text).strip() for el in root.iter() if el.tag is ET.Comment]
    return root, comments


def _ids(root: ET.Element, prefix: str) -> list[str]:
    return [el.get("id", "") for el in root.iter() if el.get("id", "").startswith(prefix)]


def test_svg_is_valid_and_has_every_study(table1: PoolResult) -> None:
    root, comments = _svg(forest_plot(table1, title="Table 1"))
    assert root.tag == f"{SVG_NS}svg"
    for study in TABLE1:
        assert escape(study.label) in comments, study.label
        assert f"{study.events} / {study.n}" in comments
    assert len(_ids(root, "study-square-")) == table1.k
    assert len(_ids(root, "study-ci-")) == table1.k
    assert _ids(root, "pooled-diamond") == ["pooled-diamond"]
    assert _ids(root, "prediction-interval") == ["prediction-interval"]
    assert "Table 1" in comments
    assert any(c.startswith("R (metafor): dat &lt;- escalc(") for c in comments)


def test_svg_is_deterministic(table1: PoolResult) -> None:
    assert forest_plot(table1) == forest_plot(table1)


def test_png_has_signature_and_size(table1: PoolResult, tmp_path: Path) -> None:
    out = tmp_path / "forest.png"
    data = forest_plot(table1, out)  # format from the suffix
    assert out.read_bytes() == data
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width == 1650  # 11 in at 150 dpi
    assert 600 < height < 2000


def test_writes_svg_to_path(table1: PoolResult, tmp_path: Path) -> None:
    out = tmp_path / "forest.svg"
    data = forest_plot(table1, out, fmt="svg")
    assert out.read_bytes() == data
    ET.fromstring(data)


def test_explicit_format_wins_over_suffix(table1: PoolResult, tmp_path: Path) -> None:
    data = forest_plot(table1, tmp_path / "plot.svg", fmt=PlotFormat.PNG)
    assert data.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"path": Path("plot.pdf")}, "path"), ({"fmt": "pdf"}, "fmt")]
)
def test_bad_format_is_refused(table1: PoolResult, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as exc:
        forest_plot(table1, **kwargs)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_zero_events_common_effect_without_prediction_interval() -> None:
    """A corrected 0/n study is marked; a common-effect model has no prediction interval."""
    res = pool(
        [StudyData("Rai 2002", 0, 24), StudyData("Nabhan 2004", 0, 12), StudyData("B", 6, 17)],
        transform=Transform.RAW,
        method=TauMethod.FIXED,
    )
    root, comments = _svg(forest_plot(res))
    assert len(_ids(root, "study-square-")) == 3
    assert _ids(root, "prediction-interval") == []
    assert comments.count("†") == 2


def test_hts_interval_is_drawn() -> None:
    res = pool(TABLE1, transform=Transform.FREEMAN_TUKEY, pi=PredictionInterval.HTS, knha=True)
    root, comments = _svg(forest_plot(res))
    assert _ids(root, "prediction-interval") == ["prediction-interval"]
    assert "Prediction interval (HTS)" in comments


def test_package_imports_without_matplotlib() -> None:
    """matplotlib is optional: it is imported only when a plot is drawn."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import cllcds.evidence._forest, cllcds.evidence._meta\n"
        "assert 'matplotlib.figure' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
