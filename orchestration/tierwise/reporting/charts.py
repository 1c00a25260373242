"""Charts of the review as inline SVG (matplotlib, text drawn as paths: the HTML and the PDF
need no font to show them). Chinese labels use Noto Sans CJK, installed by `make sysdeps`."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from tierwise.reporting.data import ReviewData  # noqa: E402
from tierwise.reporting.words import Words  # noqa: E402

CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
CJK_FAMILY = "Noto Sans CJK SC"
_fonts_ready = False


def _use_fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    missing = [str(p) for p in CJK_FONT_FILES if not p.is_file()]
    if missing:
        raise RuntimeError(f"CJK font not installed ({', '.join(missing)}): run `make sysdeps` (fonts-noto-cjk)")
    for path in CJK_FONT_FILES:
        font_manager.fontManager.addfont(str(path))
    plt.rcParams["font.family"] = [CJK_FAMILY, "DejaVu Sans"]
    plt.rcParams["svg.fonttype"] = "path"
    plt.rcParams["svg.hashsalt"] = "tierwise"  # stable ids: the same data draws the same SVG
    plt.rcParams["axes.spines.top"] = False
    plt.rcParams["axes.spines.right"] = False
    _fonts_ready = True


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML prolog


def tier_aum_chart(data: ReviewData, w: Words) -> str:
    _use_fonts()
    tiers = data.tiers
    fig, ax = plt.subplots(figsize=(6, 2.8))
    values = tiers["aum_cny"].astype(float) / 1e8
    bars = ax.bar([w.tier(t) for t in tiers["tier"]], values, color="#2f6f9f")
    for bar, share in zip(bars, tiers["aum_share"], strict=True):
        ax.annotate(w.pct(share), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set_title(w("tier_chart_title"))
    ax.margins(y=0.15)
    return _svg(fig)


def lorenz_chart(data: ReviewData, w: Words) -> str:
    _use_fonts()
    curve = data.concentration.lorenz
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", label=w("equality"))
    ax.plot(curve["population_share"], curve["aum_share"], color="#b03a2e", label=w("lorenz_title"))
    ax.fill_between(
        curve["population_share"], curve["aum_share"], curve["population_share"], alpha=0.15, color="#b03a2e"
    )
    ax.set_xlabel(w("lorenz_x"))
    ax.set_ylabel(w("lorenz_y"))
    ax.set_title(f"{w('lorenz_title')} · {w('gini')} {w.ratio(data.concentration.gini)}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", frameon=False)
    return _svg(fig)


def migration_heatmap(matrix, w: Words) -> str:
    """matrix: DataFrame of customers, index = from tier codes, columns = to tier codes."""
    _use_fonts()
    values = matrix.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(matrix.columns), 0.9 + 0.5 * len(matrix.index)))
    shown = np.log1p(values)  # a log scale keeps the small off-diagonal moves visible
    ax.imshow(shown, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(matrix.columns)), [w.tier(c) for c in matrix.columns])
    ax.set_yticks(range(len(matrix.index)), [w.tier(i) for i in matrix.index])
    ax.xaxis.tick_top()
    peak = shown.max() if shown.size else 0
    for (row, col), value in np.ndenumerate(values):
        ax.text(
            col,
            row,
            f"{int(value):,}",
            ha="center",
            va="center",
            color="white" if peak and shown[row, col] > 0.6 * peak else "black",
            fontsize=9,
        )
    ax.set_title(w("heatmap_title"), pad=24)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    return _svg(fig)
