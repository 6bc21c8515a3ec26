# Training variables of the point-mass example (docs/your_own_environment.md):
#   ./run_script.sh examples/point_mass/training_variables.sh
# Relative paths are taken from the repository root, else from this file's folder: a copy of
# this folder anywhere trains the same way.
SAC_PARAMS=point_mass_params.py
SAC_CONFIG=point_mass.json
SAC_EXP_NAME=point_mass
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=1
SAC_NUM_COLLECT_WORKERS=1
SAC_COLLECT_WORKER_CPUS=1
SAC_SEED=0
