"""Environments: where users extend sac_system.

Each environment is a params file `<name>_params.py` (a `TrainParams(TrainParamsBase)` whose
`env_ctor()` builds a tf-agents `PyEnvironment` with `set_state`) plus the modules it needs.
`gym_params.py` trains any gymnasium `Box`-action env named in the JSON config;
`lunar_lander_params.py` is the default task. See docs/design.md §5 for the contract.
"""
