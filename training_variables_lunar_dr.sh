# Training variables: SAC on continuous Lunar Lander with domain randomization (2-core machine).
# The first 300 iterations train on the default physics; then gravity, wind and turbulence
# are re-drawn at every episode from intervals that widen until iteration 1200 (see the
# curriculum in config/lunar_lander_dr.json and the README section "Domain randomization").
# A shell file of assignments, read by ./run_script.sh / ./train_script.sh. Relative paths are
# taken from the repository root.

# Python file defining class TrainParams (derived from TrainParamsBase).
SAC_PARAMS=sac_system/envs/lunar_lander_params.py
# JSON config: env settings, hyperparameter overrides ("hyperparameters"), "curriculum".
SAC_CONFIG=config/lunar_lander_dr.json
# Experiment name: the run writes to logs/$SAC_EXP_NAME (run again to resume it).
SAC_EXP_NAME=lunar_lander_dr
# CPUs for the Reverb replay server, the learner, and each of the collect/eval workers.
# On 2 CPUs the replay server (light) shares a CPU with the worker; the learner gets its own.
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=1
SAC_NUM_COLLECT_WORKERS=1
SAC_COLLECT_WORKER_CPUS=1
# Replay server address and port. Unset port: a free one is picked.
SAC_REPLAY_HOST=127.0.0.1
# SAC_REPLAY_PORT=8008
# Run seed (overrides the params' seed).
SAC_SEED=0
