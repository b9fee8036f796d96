"""A slider that always shows its value (Vuetify's shows it only while dragging)."""

from __future__ import annotations

import html

import solara


def slider_text(value, step) -> str:
    """A slider's value as its steps show it (0.25, 0.005, 10)."""
    if value is None:
        return "-"
    if isinstance(value, int) and isinstance(step, int):
        return str(value)
    decimals = max(0, -int(f"{float(step):e}".split("e")[1])) if step else 3
    return f"{float(value):.{decimals}f}"


@solara.component
def ValueSlider(label: str, value, on_value, low, high, step, integer: bool = False):
    """A slider with its label and current value on a line above it (the value always visible)."""
    with solara.Column(gap="0px", classes=["synsim-slider"]):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f'<span class="synsim-slider-label">{html.escape(label)}</span>: '
                f'<b class="synsim-slider-value">{html.escape(slider_text(value, step))}</b>'
            ),
            classes=["synsim-slider-head"],
        )
        slider = solara.SliderInt if integer else solara.SliderFloat
        slider("", value=value, on_value=on_value, min=low, max=high, step=step, thumb_label=True)
