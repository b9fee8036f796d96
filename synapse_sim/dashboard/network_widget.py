"""The network drawn edge by edge on a canvas in the browser (a Vue template widget)."""

from __future__ import annotations

import json

import ipyvuetify as v
import traitlets

from . import views

NETWORK_TEMPLATE = """
<template>
  <canvas ref="canvas" class="synsim-network" style="width: 100%; cursor: pointer"
          :data-pathway-synapses="pathwayCount" :data-pathway-output="output"
          @click="pick" @mousemove="hover"></canvas>
</template>
<script>
module.exports = {
  computed: {
    g() { return JSON.parse(this.geometry); },
    w() { return this.widths ? this.widths.split(",").map(Number) : []; },
    m() { return this.marked ? this.marked.split(",").map(Number) : []; },
    pathwayCount() { return (this.pathway.match(/1/g) || []).length; },
  },
  watch: {
    geometry() { this.draw(); },
    actions() { this.draw(); },
    widths() { this.draw(); },
    selected() { this.draw(); },
    pathway() { this.draw(); },
    marked() { this.draw(); },
    output() { this.draw(); },
  },
  mounted() { this.draw(); },
  methods: {
    line(ctx, e) {
      ctx.moveTo(e[0], e[1]);
      ctx.lineTo(e[2], e[3]);
    },
    ring(ctx, n, extra, width) {
      ctx.beginPath();
      ctx.lineWidth = width;
      ctx.arc(n.x, n.y, n.r + extra, 0, 2 * Math.PI);
      ctx.stroke();
    },
    draw() {
      const canvas = this.$refs.canvas;
      if (!canvas) return;
      const g = this.g, e = g.edges, a = this.actions, w = this.w, p = this.pathway, s = 2;
      if (canvas.width !== g.width * s) { canvas.width = g.width * s; canvas.height = g.height * s; }
      const ctx = canvas.getContext("2d");
      ctx.setTransform(s, 0, 0, s, 0, 0);
      ctx.clearRect(0, 0, g.width, g.height);
      ctx.lineCap = "round";
      ctx.globalAlpha = 0.8;
      for (let i = 0; i < e.length; i++) {
        ctx.beginPath();
        ctx.strokeStyle = this.colors[a[i]] || "#a9a9a9";
        ctx.lineWidth = w[i] || 0.5;
        this.line(ctx, e[i]);
        ctx.stroke();
      }
      if (p) {
        ctx.globalAlpha = 0.9;
        ctx.strokeStyle = this.pathway_color;
        ctx.lineWidth = 1.4;
        ctx.beginPath();
        for (let i = 0; i < e.length; i++) if (p[i] === "1") this.line(ctx, e[i]);
        ctx.stroke();
      }
      const k = this.selected;
      if (k >= 0 && k < e.length) {
        ctx.globalAlpha = 0.7;
        ctx.beginPath();
        ctx.strokeStyle = "#ffb000";
        ctx.lineWidth = 5;
        this.line(ctx, e[k]);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      for (const n of g.nodes) {
        ctx.beginPath();
        ctx.fillStyle = n.color;
        ctx.arc(n.x, n.y, n.r, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.strokeStyle = this.pathway_color;
      for (const i of this.m) if (g.nodes[i]) this.ring(ctx, g.nodes[i], 1.5, 1.2);
      if (g.nodes[this.output]) this.ring(ctx, g.nodes[this.output], 4, 2.5);
    },
    nearest(event) {
      // the synapse whose segment passes closest to the pointer (within 6 units of the drawing)
      const r = this.$refs.canvas.getBoundingClientRect(), g = this.g;
      const x = (event.clientX - r.left) * g.width / r.width, y = (event.clientY - r.top) * g.height / r.height;
      let best = -1, bestDistance = 36;
      g.edges.forEach((e, i) => {
        const dx = e[2] - e[0], dy = e[3] - e[1];
        const t = Math.max(0, Math.min(1, ((x - e[0]) * dx + (y - e[1]) * dy) / (dx * dx + dy * dy || 1)));
        const px = e[0] + t * dx - x, py = e[1] + t * dy - y, d = px * px + py * py;
        if (d < bestDistance) { bestDistance = d; best = i; }
      });
      return best;
    },
    pick(event) {
      const i = this.nearest(event);
      if (i >= 0) this.selected = i;
    },
    hover(event) {
      const i = this.nearest(event);
      this.$refs.canvas.title = i >= 0 ? "synapse " + i + " (click to inspect)" : "";
    },
  },
};
</script>
"""


class NetworkWidget(v.VuetifyTemplate):
    """The network drawn edge by edge on a canvas in the browser; a click on an edge sets ``selected``.

    A canvas, not SVG: redrawing 400 lines after every step costs the browser far less than
    patching 400 SVG elements (about 15 ms a step less, measured in headless Chromium).

    The per-step data travel as strings (``actions`` one digit per synapse, ``widths`` comma
    separated, ``geometry`` JSON): reacton walks nested lists in a component's arguments on
    every render, strings it passes over. A trial rule's feedback pathway travels the same way:
    ``pathway`` one digit per synapse (1: on the pathway), ``marked`` the indices of the neurons
    carrying feedback (in ``geometry``'s node order), ``output`` the selected output neuron's index.
    """

    template = traitlets.Unicode(NETWORK_TEMPLATE).tag(sync=True)
    geometry = traitlets.Unicode(json.dumps({"width": 1, "height": 1, "nodes": [], "edges": []})).tag(sync=True)
    actions = traitlets.Unicode("").tag(sync=True)
    widths = traitlets.Unicode("").tag(sync=True)
    colors = traitlets.List(list(views.ACTION_HEX)).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    pathway = traitlets.Unicode("").tag(sync=True)
    marked = traitlets.Unicode("").tag(sync=True)
    output = traitlets.Int(-1).tag(sync=True)
    pathway_color = traitlets.Unicode(views.PATHWAY_HEX).tag(sync=True)
