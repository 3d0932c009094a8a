"""Figures and tables of the paper, drawn from released files only (aggregates, metrics,
calibration groups, life tables, training losses): no patient row reaches them."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "FIGURES": "catalogue",
    "FigureSpec": "catalogue",
    "draw_figure": "figures",
    "plot_forest": "figures",
    "plot_privacy_utility": "figures",
    "plot_km_by_risk": "figures",
    "plot_calibration": "figures",
    "plot_convergence": "figures",
    "plot_site_heterogeneity": "heterogeneity",
    "site_overview": "overview",
    "summary_markdown": "summary",
    "save_figure": "style",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
