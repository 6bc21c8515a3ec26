# Training variables: SAC on pybullet's Minitaur quadruped (the original system's example),
# sized for a 2-core machine. The env steps in ~3 ms, so here one worker and the learner keep
# pace; on a larger node give the workers more CPUs (docs/results.md, "Minitaur").

SAC_PARAMS=sac_system/envs/minitaur_params.py
# Walking defaults, and the original README's mass/friction curriculum (in learner
# iterations of 100 gradient steps: it starts moving at iteration 20,000).
SAC_CONFIG=config/minitaur.json
SAC_EXP_NAME=minitaur
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=1
SAC_NUM_COLLECT_WORKERS=1
SAC_COLLECT_WORKER_CPUS=1
SAC_SEED=0
