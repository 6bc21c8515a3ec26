"""sac_system: distributed Soft Actor-Critic training on tf-agents and a Reverb replay server."""
