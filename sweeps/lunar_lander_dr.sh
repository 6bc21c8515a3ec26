# Sweep: does domain randomization buy robustness? The default Lunar Lander run against the
# randomized one (training_variables_lunar_dr.sh), 5 seeds each, every final policy evaluated on
# a gravity x wind grid (the README's "Robustness grid" and "Many seeds" sections).
#   ./sweep_script.sh sweeps/lunar_lander_dr.sh          # ~90 min on 2 CPUs, one run at a time
#   .venv/bin/python -m sac_system.aggregate logs/sweeps/lunar_lander_dr   # the report again
# A shell file of assignments, like a training-variables file; relative paths are taken from
# the repository root.

# The sweep dir: logs/sweeps/$SWEEP_NAME; run (variant, seed) is <sweep dir>/<variant>/seed<seed>.
SWEEP_NAME=lunar_lander_dr
# Seeds of every variant.
SWEEP_SEEDS="0-4"
# SWEEP_VARIANT_<name>="<training-variables file> [config.key=value | config=FILE | SAC_X=value ...]"
SWEEP_VARIANT_default="training_variables.sh"
SWEEP_VARIANT_randomized="training_variables_lunar_dr.sh"
# Robustness grid on each run's final policy (run.py --grid): gravity x wind power, wind on,
# 5 seeded episodes per cell (the spread over 5 seeds is the error bar).
SWEEP_GRID="gravity=-11.5:-2:5 wind_power=0:20:5 enable_wind=1"
SWEEP_GRID_EPISODES=5
SWEEP_GRID_SEED=108
# Timed: the first greedy evaluation at or above this return (Lunar Lander's reward_threshold).
SWEEP_THRESHOLD=200
