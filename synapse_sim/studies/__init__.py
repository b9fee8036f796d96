"""Studies: many runs and their tables and figures (Fig. 1, Table 1, policy selection, rule comparison, analysis)."""
