"""The stagnation doctor: findings with evidence, severity and playbooks, built on the analytics metrics."""
