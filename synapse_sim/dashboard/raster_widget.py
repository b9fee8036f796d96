"""The raster as a scrolling picture that names the cell under the pointer and opens a clicked synapse."""

from __future__ import annotations

import ipyvuetify as v
import traitlets

RASTER_TEMPLATE = """
<template>
  <div class="synsim-raster-scroll" :style="{maxHeight: box + 'px'}">
    <img ref="img" class="synsim-raster synsim-pixelated" :src="src" alt="raster"
         :style="{width: '100%', height: shown + 'px', cursor: 'pointer', display: 'block'}"
         :data-rows="rows" :data-height="height" :data-last="last" @mousemove="hover" @click="pick"/>
  </div>
</template>
<script>
module.exports = {
  computed: {
    names() { return this.labels ? this.labels.split("\\n") : []; },
    shown() { return Math.max(this.height, Math.min(this.box, this.height * 12)); },
  },
  methods: {
    cell(event) {
      const r = this.$refs.img.getBoundingClientRect();
      const y = Math.floor((event.clientY - r.top) * this.height / r.height) - this.top;
      const x = Math.floor((event.clientX - r.left) * this.columns / r.width);
      return [y, x];
    },
    hover(event) {
      const [row, column] = this.cell(event);
      if (row < 0 || row >= this.rows) { this.$refs.img.title = "broadcast"; return; }
      const last = this.newest - (this.columns - 1 - column) * this.bin;
      const steps = this.bin === 1 ? "step " + last : "steps " + (last - this.bin + 1) + "-" + last;
      const click = this.clickable ? " (click to inspect)" : "";
      this.$refs.img.title = (this.names[row] || "") + ", " + (last >= 1 ? steps : "no data yet") + click;
    },
    pick(event) {
      const [row] = this.cell(event);
      if (this.clickable && row >= 0 && row < this.rows) this.picked = row;
    },
  },
};
</script>
"""


class RasterWidget(v.VuetifyTemplate):
    """The raster picture (one pixel per row and column, scaled up, never below one screen pixel
    per row: the box scrolls instead); ``picked`` is the row last clicked, when rows are synapses.

    ``top``: picture rows above the first synapse row (the broadcast strip and its gap);
    ``labels``: the rows' names, one per line; ``newest``, ``bin``: the step of the last column
    and the steps per column, so that the pointer's cell is named without a round trip; ``last``:
    the newest column's actions, a digit per synapse row (for checks of the drawn picture).
    """

    template = traitlets.Unicode(RASTER_TEMPLATE).tag(sync=True)
    src = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(1).tag(sync=True)
    top = traitlets.Int(0).tag(sync=True)
    columns = traitlets.Int(1).tag(sync=True)
    newest = traitlets.Int(0).tag(sync=True)
    bin = traitlets.Int(1).tag(sync=True)
    box = traitlets.Int(300).tag(sync=True)
    labels = traitlets.Unicode("").tag(sync=True)
    clickable = traitlets.Bool(True).tag(sync=True)
    picked = traitlets.Int(-1).tag(sync=True)
    last = traitlets.Unicode("").tag(sync=True)
