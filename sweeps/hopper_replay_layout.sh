# Sweep: does the replay layout slow SAC's start on Hopper-v5? The shipped config (items of 32
# consecutive steps, one shuffled pool cut into 8 minibatches) against items of one step, each
# to 110k env steps (1,000 iterations of 100 gradient steps after the 10k-step warm-up), 5 seeds.
#   ./sweep_script.sh sweeps/hopper_replay_layout.sh
SWEEP_NAME=hopper_replay_layout
SWEEP_SEEDS="0-4"
SWEEP_VARIANT_items32="training_variables_hopper.sh hyperparameters.num_iterations=1000"
SWEEP_VARIANT_items1="training_variables_hopper.sh hyperparameters.num_iterations=1000 hyperparameters.steps_per_item=1"
SWEEP_THRESHOLD=1000
