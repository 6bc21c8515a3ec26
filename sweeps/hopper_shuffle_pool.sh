# Sweep: the shipped Hopper-v5 config (items of 32 consecutive steps) with the rows of 256
# minibatches' worth of items shuffled together instead of 8, so that an item's rows are
# spread over ~256 gradient steps; 5 seeds to 110k env steps. Compare with
# sweeps/hopper_replay_layout.sh (items of 32 with a pool of 8, and items of 1 step).
#   ./sweep_script.sh sweeps/hopper_shuffle_pool.sh
SWEEP_NAME=hopper_shuffle_pool
SWEEP_SEEDS="0-4"
SWEEP_VARIANT_pool256="training_variables_hopper.sh hyperparameters.num_iterations=1000 hyperparameters.shuffle_pool_minibatches=256"
SWEEP_THRESHOLD=1000
