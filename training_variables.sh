# Training variables: SAC on continuous Lunar Lander, sized for a 2-core machine.
# A shell file of assignments, read by ./run_script.sh / ./train_script.sh. Relative paths are
# taken from the repository root.

# Python file defining class TrainParams (derived from TrainParamsBase).
SAC_PARAMS=sac_system/envs/lunar_lander_params.py
# JSON config: env settings, hyperparameter overrides ("hyperparameters"), "curriculum".
SAC_CONFIG=config/lunar_lander.json
# Experiment name: the run writes to logs/$SAC_EXP_NAME (run again to resume it).
SAC_EXP_NAME=lunar_lander
# CPUs for the Reverb replay server, the learner, and each of the collect/eval workers.
# On 2 CPUs the learner gets both: the replay server and the worker together use ~0.15 of a
# CPU while it trains (benchmarks/README.md), and the learner runs its independent ops side
# by side on the second one.
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=2
SAC_NUM_COLLECT_WORKERS=1
SAC_COLLECT_WORKER_CPUS=1
# Replay server address and port. Unset port: a free one is picked.
SAC_REPLAY_HOST=127.0.0.1
# SAC_REPLAY_PORT=8008
# Run seed (overrides the params' seed).
SAC_SEED=0
