ntkspec compare --preset tiny --out runs/tiny     # presets: sphere3 (default), circle, tiny, vmf
cat runs/tiny/report.md                           # the per-degree table; figures beside it
