"""The checks that the material still says what the code prints: snapshots (`doit check`, `doit accept`)
compared by the engine in compare.py, numbers typed by hand in the prose, the claims of imported lectures,
notebooks reproduced in a fresh kernel, and the CPU against the GPU."""
