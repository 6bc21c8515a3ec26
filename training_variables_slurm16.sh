# Training variables: SAC on continuous Lunar Lander on one 16-CPU SLURM node.
#   sbatch scripts/slurm_train.sbatch training_variables_slurm16.sh
# The job asks for 1 + 3 + 5 * 2 + 2 = 16 CPUs (the +2 is headroom for the launcher and the OS).

# Python file defining class TrainParams (derived from TrainParamsBase).
SAC_PARAMS=sac_system/envs/lunar_lander_params.py
# JSON config: env settings, hyperparameter overrides, curriculum.
SAC_CONFIG=config/lunar_lander.json
# The run writes to logs/$SAC_EXP_NAME.
SAC_EXP_NAME=lunar_lander_slurm16
# CPUs for the Reverb replay server and the learner (TensorFlow uses them all).
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=3
# Five collect/eval workers with two CPUs each (SLURM_PROCID 0..4).
SAC_NUM_COLLECT_WORKERS=5
SAC_COLLECT_WORKER_CPUS=2
# The programs reach the replay server on this node's loopback address.
SAC_REPLAY_HOST=127.0.0.1
# Run seed.
SAC_SEED=0
