# Training variables: SAC on gymnasium's MuJoCo Ant-v5 from JSON alone (generic params; the
# config names the env). 300k env steps, one gradient step per env step: docs/results.md, "MuJoCo".

# Python file defining class TrainParams: the generic gymnasium params.
SAC_PARAMS=sac_system/envs/gym_params.py
# JSON config naming the env ("env_id"), its physics and the SAC hyperparameters.
SAC_CONFIG=config/ant.json
# The run writes to logs/$SAC_EXP_NAME (run again to resume it).
SAC_EXP_NAME=ant
# CPUs for the replay server, the learner, and each worker.
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=1
SAC_NUM_COLLECT_WORKERS=1
SAC_COLLECT_WORKER_CPUS=1
# Replay server address; a free port is picked unless SAC_REPLAY_PORT is set.
SAC_REPLAY_HOST=127.0.0.1
# Run seed.
SAC_SEED=0
