ntkspec spectrum --dim 3 --depth 2 --kmax 20 --json > spectrum.json   # one JSON object
ntkspec spectrum --dim 3 --depth 4 --kmax 30 --plot spectrum.png      # table + log-log plot
ntkspec spectrum --dim 5 --depth 2 --activation erf --kernel nngp --bias-var 0.1 --kmax 8
